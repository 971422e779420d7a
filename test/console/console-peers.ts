// Real peers for the console tests: qemu's VNC server, small RFB-speaking TCP servers, headless Chromium, socket counts.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Reads the first bytes a TCP server sends (null if none within ms). */
export function readGreeting(port: number, ms: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => done(null), ms);
    const done = (b: Buffer | null) => {
      clearTimeout(t);
      s.destroy();
      resolve(b);
    };
    s.once('data', (d) => done(d));
    s.once('error', () => done(null));
  });
}

export interface QemuVnc {
  port: number;
  proc: ChildProcess;
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** qemu with no disk and no NIC: its VNC shows SeaBIOS's screen ("No bootable device"). */
export async function startQemuVnc(): Promise<QemuVnc> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    if (port < 5900) continue;
    const proc = spawn(
      'qemu-system-x86_64',
      ['-accel', 'tcg', '-display', 'none', '-vnc', `127.0.0.1:${port - 5900}`, '-m', '64', '-nodefaults', '-vga', 'std',
        '-net', 'none', '-name', `rackhand-console-test-${process.pid}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const stop = async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
      await exited;
    };
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && proc.exitCode === null) {
      const g = await readGreeting(port, 1_000);
      if (g && g.toString('latin1').startsWith('RFB ')) {
        return { port, proc, stop, freeze: () => proc.kill('SIGSTOP'), thaw: () => proc.kill('SIGCONT') };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await stop();
    if (!/Address already in use|Failed to find an available port/i.test(stderr)) throw new Error(`qemu did not start: ${stderr}`);
  }
  throw new Error('qemu: no free VNC port');
}

export type FakeMode = 'echo' | 'source' | 'sink' | 'silent' | 'http' | 'flood';

export interface FakeVnc {
  port: number;
  server: net.Server;
  /** Bytes the server's sockets accepted for writing / received. */
  counters: { written: number; received: number; accepted: number };
  sockets: Set<net.Socket>;
  connections(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A TCP server that greets like a VNC server and then echoes, floods, swallows or does nothing;
 * 'silent' never sends a banner (a frozen server), 'http' answers like a web server.
 */
export async function startFakeVnc(mode: FakeMode, opts: { readPaused?: boolean } = {}): Promise<FakeVnc> {
  const counters = { written: 0, received: 0, accepted: 0 };
  const sockets = new Set<net.Socket>();
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const server = net.createServer((s) => {
    counters.accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (opts.readPaused) s.pause();
    if (mode === 'silent') return;
    if (mode === 'http') {
      s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    s.write('RFB 003.008\n');
    if (mode === 'echo') {
      s.on('data', (d) => {
        counters.received += d.length;
        s.write(d);
      });
    } else if (mode === 'sink') {
      s.on('data', (d) => (counters.received += d.length));
    } else if (mode === 'flood') {
      // Writes as fast as the proxy takes it: written counts what the kernel and proxy accepted.
      const pump = () => {
        while (!s.destroyed) {
          counters.written += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
      };
      pump();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    server,
    counters,
    sockets,
    connections: () => new Promise((r, j) => server.getConnections((e, n) => (e ? j(e) : r(n)))),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Established TCP sockets (either end) on a local port, counted by the kernel (`ss`). */
export function establishedOn(port: number): number {
  const out = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim() !== '').length;
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Browser {
  ctx: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const udd = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-console-chrome-${process.pid}-`));
  try {
    const ctx = await chromium.launchPersistentContext(udd, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1024, height: 768 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    return {
      ctx,
      close: async () => {
        await ctx.close().catch(() => {});
        fs.rmSync(udd, { recursive: true, force: true });
      },
    };
  } catch (e) {
    fs.rmSync(udd, { recursive: true, force: true });
    throw e;
  }
}

/** Runs in the page: distinct colours and non-black share of the largest canvas. */
export const canvasStats = () => {
  const cs = [...document.querySelectorAll('canvas')];
  if (!cs.length) return null;
  const c = cs.sort((a, b) => b.width * b.height - a.width * a.height)[0];
  if (c.width < 2 || c.height < 2) return { w: c.width, h: c.height, distinct: 0, nonBlackFrac: 0 };
  const d = c.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, c.width, c.height).data;
  const seen = new Set<number>();
  let nonBlack = 0;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const v = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    if (seen.size < 5000) seen.add(v);
    if (v !== 0) nonBlack++;
    n++;
  }
  return { w: c.width, h: c.height, distinct: seen.size, nonBlackFrac: nonBlack / n };
};
