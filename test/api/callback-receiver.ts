// A stand-in for central control's post_install_callback endpoint: a loopback HTTP server that records every
// request (headers and body) and can answer the next N with 500, to exercise rackhand's retries.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedCallback {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  answered: number;
}

export interface CallbackReceiver {
  /** host:port, for central.callbackHosts. */
  host: string;
  url(path: string): string;
  received: ReceivedCallback[];
  failNext(n: number): void;
  /** Resolves once `count` requests to `path` have been answered 2xx. */
  delivered(path: string, count?: number, timeoutMs?: number): Promise<ReceivedCallback[]>;
  close(): Promise<void>;
}

export async function startCallbackReceiver(): Promise<CallbackReceiver> {
  const received: ReceivedCallback[] = [];
  let failing = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const answered = failing > 0 ? 500 : 204;
      if (failing > 0) failing--;
      received.push({ path: req.url ?? '', headers: req.headers, body, json, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    url: (p) => `http://${host}${p}`,
    received,
    failNext: (n) => void (failing = n),
    async delivered(path, count = 1, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const ok = received.filter((r) => r.path === path && r.answered < 300);
        if (ok.length >= count) return received.filter((r) => r.path === path);
        if (Date.now() > until) throw new Error(`no ${count} delivered callback(s) to ${path}; got ${JSON.stringify(received.map((r) => [r.path, r.answered]))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
