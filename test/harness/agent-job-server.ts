// Test harness: a small HTTP server that speaks ramdisk/PROTOCOL.md to the ramdisk agent (job, progress, result,
// images with Range), records everything the agent sent, and lets a test arm or disarm a token.

import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AgentJob {
  action: 'inspect' | 'wipe' | 'deploy' | 'rescue';
  params: Record<string, unknown>;
}

export interface AgentProgress {
  step: string;
  state: string;
  message?: string;
  percent?: number;
}

export interface AgentResult {
  ok: boolean;
  result?: any;
  code?: string;
  reason?: string;
}

interface TokenState {
  job: AgentJob | null;
  failFetches: number;
  progress: AgentProgress[];
  result?: AgentResult;
  jobFetches: number;
}

export interface AgentJobServer {
  /** Port on the host address it was started on. */
  port: number;
  /** Base URL as the VM reaches it (set by the caller once it knows the proxy address). */
  base: string;
  arm(token: string, job: AgentJob | null): void;
  agentUrl(token: string): string;
  /** Serve a text at <base><urlPath> (an install config). */
  addText(urlPath: string, body: string): string;
  /** Every request for a text: path and status. */
  textRequests: string[];
  /** Serve a file at <base>/boot/images/<name>. */
  addImage(name: string, file: string): string;
  state(token: string): TokenState;
  /** Fault: the next download of this image is cut (socket destroyed) after this many bytes. */
  cutImageOnce(name: string, afterBytes: number): void;
  /** Fault: the next n GET job for this token answer 503. */
  failJobFetches(token: string, n: number): void;
  /** Every image request: name, Range header, status. */
  imageRequests: Array<{ name: string; range?: string; status: number }>;
  waitResult(token: string, timeoutMs: number, abortIf?: () => string | undefined): Promise<AgentResult>;
  waitProgress(token: string, pred: (p: AgentProgress) => boolean, timeoutMs: number): Promise<AgentProgress>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let b = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (b += d));
    req.on('end', () => resolve(b));
    req.on('error', reject);
  });
}

export async function startAgentJobServer(host: string): Promise<AgentJobServer> {
  const tokens = new Map<string, TokenState>();
  const images = new Map<string, string>();
  const imageRequests: AgentJobServer['imageRequests'] = [];
  const texts = new Map<string, string>();
  const cuts = new Map<string, number>();
  const textRequests: string[] = [];
  const state = (t: string) => {
    let s = tokens.get(t);
    if (!s) tokens.set(t, (s = { job: null, progress: [], jobFetches: 0, failFetches: 0 }));
    return s;
  };

  const serveImage = (name: string, req: IncomingMessage, res: ServerResponse) => {
    const file = images.get(name);
    if (!file) {
      imageRequests.push({ name, status: 404 });
      res.writeHead(404).end();
      return;
    }
    const size = statSync(file).size;
    const range = req.headers.range;
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (m) {
      const start = Number(m[1]);
      const end = Math.min(m[2] ? Number(m[2]) : size - 1, size - 1);
      if (start >= size || start > end) {
        imageRequests.push({ name, range, status: 416 });
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      imageRequests.push({ name, range, status: 206 });
      res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Accept-Ranges': 'bytes' });
      createReadStream(file, { start, end }).pipe(res);
      return;
    }
    imageRequests.push({ name, range, status: 200 });
    res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' });
    const cut = cuts.get(name);
    if (cut !== undefined) {
      // promise the whole file, send part of it, drop the connection: what a flaky network does
      cuts.delete(name);
      const part = createReadStream(file, { start: 0, end: cut - 1 });
      part.on('data', (d) => res.write(d));
      part.on('end', () => setTimeout(() => res.destroy(), 100));
      return;
    }
    createReadStream(file).pipe(res);
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const text = texts.get(url.pathname);
      if (text !== undefined && req.method === 'GET') {
        textRequests.push(url.pathname);
        return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end(text);
      }
      const img = /^\/boot\/images\/(.+)$/.exec(url.pathname);
      if (img && req.method === 'GET') return serveImage(decodeURIComponent(img[1]), req, res);
      const m = /^\/boot\/agent\/([A-Za-z0-9_-]+)\/(job|progress|result)$/.exec(url.pathname);
      if (!m) return void res.writeHead(404).end();
      const s = state(m[1]);
      if (m[2] === 'job' && req.method === 'GET') {
        s.jobFetches++;
        if (s.failFetches > 0) {
          s.failFetches--;
          return void res.writeHead(503).end();
        }
        if (!s.job) return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"nothing armed"}');
        return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(s.job));
      }
      if (req.method === 'GET' && url.search) {
        // the installer form (ramdisk/PROTOCOL.md): busybox wget can only GET, so the fields come as a query string
        const q = Object.fromEntries(url.searchParams);
        if (m[2] === 'progress') s.progress.push({ step: q.step, state: q.state, ...(q.message ? { message: q.message } : {}) });
        else s.result = { ok: q.ok === '1' || q.ok === 'true', ...(q.code ? { code: q.code } : {}), ...(q.reason ? { reason: q.reason } : {}) };
        return void res.writeHead(204).end();
      }
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const body = JSON.parse(await readBody(req));
      if (m[2] === 'progress') s.progress.push(body);
      else s.result = body;
      res.writeHead(204).end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(400).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;

  const poll = async <T>(get: () => T | undefined, timeoutMs: number, what: string, abortIf?: () => string | undefined): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = get();
      if (v !== undefined) return v;
      const abort = abortIf?.();
      if (abort) throw new Error(`${what}: ${abort}`);
      if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const srv: AgentJobServer = {
    port,
    base: `http://${host}:${port}`,
    arm: (token, job) => {
      state(token).job = job;
    },
    agentUrl: (token) => `${srv.base}/boot/agent/${token}`,
    addText: (urlPath, body) => {
      texts.set(urlPath, body);
      return `${srv.base}${urlPath}`;
    },
    textRequests,
    addImage: (name, file) => {
      images.set(name, file);
      return `${srv.base}/boot/images/${name}`;
    },
    state,
    imageRequests,
    cutImageOnce: (name, afterBytes) => void cuts.set(name, afterBytes),
    failJobFetches: (token, n) => {
      state(token).failFetches = n;
    },
    waitResult: (token, timeoutMs, abortIf) => poll(() => state(token).result, timeoutMs, `result for ${token}`, abortIf),
    waitProgress: (token, pred, timeoutMs) => poll(() => state(token).progress.find(pred), timeoutMs, `progress for ${token}`),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return srv;
}
