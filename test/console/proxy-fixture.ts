// A VncProxy on a real http.Server with an in-memory ticket authority, a ws client that reports how it ended, and a
// hand-written upgrade for what a well-behaved client never sends.
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { InMemoryTicketAuthority } from '../../src/console/tickets.js';
import { VncProxy, type ConsoleConnectionRecord, type ConsoleGrant, type VncProxyOptions } from '../../src/console/vnc-proxy.js';

export interface ProxyFixture {
  server: http.Server;
  proxy: VncProxy;
  authority: InMemoryTicketAuthority;
  ends: ConsoleConnectionRecord[];
  logs: string[];
  port: number;
  wsUrl(ticket: string): string;
  grant(target: number, extra?: Partial<ConsoleGrant>): ConsoleGrant;
  serverConnections(): Promise<number>;
  close(): Promise<void>;
}

export async function startProxy(opts: Partial<VncProxyOptions> = {}, onRequest?: http.RequestListener): Promise<ProxyFixture> {
  const authority = new InMemoryTicketAuthority();
  const ends: ConsoleConnectionRecord[] = [];
  const logs: string[] = [];
  const log = (level: string) => (obj: object, msg?: string) => logs.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  const server = http.createServer(onRequest ?? ((_req, res) => res.writeHead(404).end()));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const proxy = new VncProxy({
    authority,
    logger: { info: log('info'), warn: log('warn'), debug: log('debug') },
    onConnectionEnd: (r) => ends.push(r),
    ...opts,
  });
  proxy.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  let n = 0;
  return {
    server,
    proxy,
    authority,
    ends,
    logs,
    port,
    wsUrl: (ticket) => `ws://127.0.0.1:${port}${proxy.path}?ticket=${encodeURIComponent(ticket)}`,
    grant: (target, extra) => ({ sessionId: `s-${process.pid}-${++n}`, serverId: 1, target: { host: '127.0.0.1', port: target }, ...extra }),
    serverConnections: () => new Promise((r, j) => server.getConnections((e, c) => (e ? j(e) : r(c)))),
    close: async () => {
      await proxy.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface Client {
  ws: WebSocket;
  received: Buffer[];
  receivedBytes(): number;
  opened: Promise<boolean>;
  /** code/reason of the close, or the HTTP status when the upgrade was refused. */
  ended: Promise<{ code: number; reason: string; httpStatus?: number }>;
}

export function connect(url: string, opts: { origin?: string; protocols?: string[] } = {}): Client {
  const ws = new WebSocket(url, opts.protocols ?? ['binary'], {
    perMessageDeflate: false,
    headers: opts.origin ? { origin: opts.origin } : {},
  });
  ws.binaryType = 'nodebuffer';
  const received: Buffer[] = [];
  let total = 0;
  ws.on('message', (d: Buffer) => {
    received.push(d);
    total += d.length;
  });
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('close', () => resolve(false));
    ws.once('unexpected-response', () => resolve(false));
  });
  const ended = new Promise<{ code: number; reason: string; httpStatus?: number }>((resolve) => {
    ws.on('error', () => {});
    ws.once('unexpected-response', (_req, res) => {
      resolve({ code: 1006, reason: '', httpStatus: res.statusCode });
      res.resume();
      ws.terminate();
    });
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return { ws, received, receivedBytes: () => total, opened, ended };
}

export function concatReceived(c: Client): Buffer {
  return Buffer.concat(c.received);
}

/** An upgrade written by hand, for what a well-behaved client never sends; `received` is what came after the head. */
export function rawUpgrade(port: number, path: string, opts: { key?: string } = {}): Promise<{ status: number; socket: net.Socket; received(): Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let head: Buffer | null = Buffer.alloc(0);
    let body: Buffer = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      if (head === null) {
        body = Buffer.concat([body, d]);
        return;
      }
      head = Buffer.concat([head, d]);
      const i = head.indexOf('\r\n\r\n');
      if (i < 0) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.toString('latin1'))?.[1] ?? 0);
      body = head.subarray(i + 4);
      head = null;
      resolve({ status, socket, received: () => body });
    });
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${opts.key ?? crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n`,
    );
  });
}
