// Test harness: BMC addresses that never answer: a closed port (refused), a port whose SYNs are dropped (a full
// accept queue nobody drains: what a blackholed or dead BMC looks like to connect()), and one that accepts TCP but
// never says a word (a hung BMC web server).

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { stopChild } from '../netns-lab.js';

export type UnreachableKind = 'refused' | 'blackholed' | 'silent';

export interface UnreachableBmc {
  host: '127.0.0.1';
  port: number;
  /** Connections the silent kind accepted (it never answers them). */
  accepted(): number;
  /** Of those, the ones the client has not closed yet. */
  open(): number;
  stop(): Promise<void>;
}

// listen(0) and never accept(): Linux queues one connection, then drops every further SYN (tcp_abort_on_overflow is
// 0). The script fills the queue itself and checks that a new connect really hangs before it reports the port.
const BLACKHOLE = `
import socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0); port = s.getsockname()[1]
fill = []
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', port))
    except BlockingIOError: pass
    fill.append(c)
import time; time.sleep(0.2)
probe = socket.socket(); probe.settimeout(0.5)
try:
    probe.connect(('127.0.0.1', port)); print('connected', flush=True); sys.exit(1)
except socket.timeout:
    pass
print(port, flush=True)
sys.stdin.read()
`;

export async function startUnreachableBmc(kind: UnreachableKind): Promise<UnreachableBmc> {
  if (kind === 'blackholed') {
    const child: ChildProcess = spawn('/usr/bin/python3', ['-c', BLACKHOLE], { stdio: ['pipe', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n')[0]!;
        if (out.includes('\n')) {
          const p = Number(line);
          if (Number.isInteger(p) && p > 0) resolve(p);
          else reject(new Error(`blackhole helper: ${line}`));
        }
      });
      child.once('exit', (c) => reject(new Error(`blackhole helper exited (${c})`)));
    });
    return {
      host: '127.0.0.1',
      port,
      accepted: () => 0,
      open: () => 0,
      stop: async () => {
        child.stdin!.end();
        await stopChild(child, 1000);
      },
    };
  }
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.resume(); // read (and drop) what the client sends, so its close is seen
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  // Refused: the port was free a moment ago and nothing listens on it now.
  if (kind === 'refused') await close();
  return { host: '127.0.0.1', port, accepted: () => accepted, open: () => sockets.size, stop: kind === 'refused' ? async () => undefined : close };
}
