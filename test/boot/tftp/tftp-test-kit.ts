// Test helpers for the TFTP server: temp trees, the real tftp-hpa/atftp clients, and a raw UDP client.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  TftpDecodeError,
  parseTftpPacket,
  serializeAck,
  serializeRequest,
  type TftpPacket,
} from '../../../src/boot/tftp/tftp-packet.js';

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every suite that moves blocks runs on both engines: the native one (built by npm run build) and the JavaScript one. */
export const ENGINES = ['native', 'js'] as const;

/** A temp dir holding `root/` (served) and `outside/` (must never be served); removed by cleanup(). */
export function makeTree(tag: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rh-tftp-${tag}-${process.pid}-`));
  const root = path.join(dir, 'root');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  return {
    dir,
    root,
    outside,
    write(rel: string, data: Buffer | string, base = root): string {
      const p = path.join(base, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data);
      return p;
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CmdResult {
  code: number | null;
  out: string; // stdout and stderr together, the clients mix them
}

/** Runs a client; the timeout is only an upper bound that turns a hang into a failure. */
export function runCmd(cmd: string, args: string[], timeoutMs = 60_000): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

export function hpaGet(host: string, port: number, remote: string, local: string): Promise<CmdResult> {
  return runCmd('tftp', [host, String(port), '-m', 'binary', '-c', 'get', remote, local]);
}

export function atftpGet(
  host: string,
  port: number,
  remote: string,
  local: string,
  options: string[] = [],
): Promise<CmdResult> {
  return runCmd('atftp', [
    '--verbose',
    ...options.flatMap((o) => ['--option', o]),
    '--get',
    '-r',
    remote,
    '-l',
    local,
    host,
    String(port),
  ]);
}

export interface Datagram {
  pkt: TftpPacket | TftpDecodeError;
  raw: Buffer;
  address: string;
  port: number;
}

/** A UDP socket with a receive queue, for speaking TFTP by hand. */
export class RawClient {
  readonly socket: dgram.Socket;
  private readonly queue: Datagram[] = [];
  private waiter: (() => void) | undefined;

  private constructor(type: 'udp4' | 'udp6') {
    this.socket = dgram.createSocket(type);
    this.socket.on('message', (raw, rinfo) => {
      let pkt: TftpPacket | TftpDecodeError;
      try {
        pkt = parseTftpPacket(raw);
      } catch (e) {
        pkt = e as TftpDecodeError;
      }
      this.queue.push({ pkt, raw, address: rinfo.address, port: rinfo.port });
      this.waiter?.();
    });
    this.socket.on('error', () => {}); // ICMP unreachable after a transfer closes is expected
  }

  static async open(address = '127.0.0.1'): Promise<RawClient> {
    const c = new RawClient(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((r) => c.socket.bind(0, address, () => r()));
    return c;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((r) => this.socket.send(buf, port, address, () => r()));
  }

  /** Next datagram, or undefined if none arrives within ms. */
  async next(ms = 5000): Promise<Datagram | undefined> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  /** Everything that arrives within ms. */
  async drain(ms: number): Promise<Datagram[]> {
    const out: Datagram[] = [];
    const deadline = Date.now() + ms;
    for (;;) {
      const d = await this.next(Math.max(0, deadline - Date.now()));
      if (!d) return out;
      out.push(d);
    }
  }

  close(): Promise<void> {
    return new Promise((r) => {
      try {
        this.socket.close(() => r());
      } catch {
        r();
      }
    });
  }
}

export interface RawGetResult {
  data?: Buffer;
  oack?: Map<string, string>;
  error?: { code: number; message: string };
  /** Every address:port DATA/OACK/ERROR came from. */
  sources: Set<string>;
}

/**
 * A minimal conforming RRQ client (lockstep or RFC 7440 windows): enough to drive the server
 * where the real clients cannot (exact OACK values, error codes, IPv6, rollover).
 */
export async function rawGet(
  serverPort: number,
  filename: string,
  opts: { options?: Record<string, string>; host?: string; mode?: string; client?: RawClient } = {},
): Promise<RawGetResult> {
  const host = opts.host ?? '127.0.0.1';
  const c = opts.client ?? (await RawClient.open(host));
  const res: RawGetResult = { sources: new Set() };
  try {
    const options = new Map(Object.entries(opts.options ?? {}));
    await c.send(serializeRequest({ op: 'RRQ', filename, mode: opts.mode ?? 'octet', options }), serverPort, host);
    let blksize = 512;
    let window = 1;
    let expected = 1; // absolute block number
    let tid: number | undefined;
    const parts: Buffer[] = [];
    let inWindow = 0;
    for (;;) {
      const d = await c.next(10_000);
      if (!d) throw new Error(`rawGet ${filename}: no answer waiting for block ${expected}`);
      if (d.pkt instanceof TftpDecodeError) continue;
      if (tid !== undefined && d.port !== tid) continue;
      res.sources.add(`${d.address}:${d.port}`);
      tid ??= d.port;
      const p = d.pkt;
      if (p.op === 'ERROR') {
        res.error = { code: p.code, message: p.message };
        return res;
      }
      if (p.op === 'OACK' && expected === 1 && !res.oack) {
        res.oack = p.options;
        blksize = Number(p.options.get('blksize') ?? 512);
        window = Number(p.options.get('windowsize') ?? 1);
        await c.send(serializeAck(0), tid, host);
        continue;
      }
      if (p.op !== 'DATA') continue;
      if (p.block !== (expected & 0xffff)) {
        // Out of order or a repeat: acknowledge what we have, as RFC 7440 asks.
        await c.send(serializeAck(expected - 1), tid, host);
        inWindow = 0;
        continue;
      }
      parts.push(Buffer.from(p.data));
      expected += 1;
      inWindow += 1;
      const last = p.data.length < blksize;
      if (last || inWindow >= window) {
        await c.send(serializeAck(expected - 1), tid, host);
        inWindow = 0;
      }
      if (last) {
        res.data = Buffer.concat(parts);
        return res;
      }
    }
  } finally {
    if (!opts.client) await c.close();
  }
}

/**
 * Polls until cond() holds: a client exits right after its last ACK, and the server settles the
 * transfer (closes fd and socket, counts it) a moment later. The deadline only turns a hang into a failure.
 */
export async function waitFor(cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** True when nothing holds this UDP port any more (the transfer socket was closed). */
export async function portIsFree(port: number, address = '127.0.0.1'): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ port, address, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
