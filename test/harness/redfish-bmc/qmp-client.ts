// Test harness: a minimal QMP (qemu machine protocol) client on a unix socket: commands in order, events as they come.

import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  command: string;
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

/** Emits 'event' (QmpEvent) and 'close'. */
export class QmpClient extends EventEmitter {
  private buf = '';
  private readonly pending: Pending[] = [];
  private greeted!: () => void;
  private readonly greeting = new Promise<void>((r) => (this.greeted = r));
  private closed = false;

  private constructor(private readonly sock: Socket) {
    super();
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      for (const p of this.pending.splice(0)) p.reject(new Error(`qmp: connection closed during ${p.command}`));
      this.emit('close');
    });
  }

  /** Connects (retrying while qemu creates the socket), reads the greeting and leaves capabilities negotiation. */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sock = await new Promise<Socket | Error>((resolve) => {
        const s = connect(path);
        s.once('connect', () => resolve(s));
        s.once('error', (e) => resolve(e));
      });
      if (!(sock instanceof Error)) {
        const c = new QmpClient(sock);
        await c.greeting;
        await c.execute('qmp_capabilities');
        return c;
      }
      if (Date.now() > deadline) throw new Error(`qmp: ${path}: ${sock.message}`);
      await sleep(50);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`qmp: closed; cannot run ${command}`));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ resolve: resolve as (v: unknown) => void, reject, command });
      this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    });
  }

  /** Resolves with the next event of that name (or rejects when the connection closes first). */
  nextEvent(name: string, timeoutMs = 10_000): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`qmp: no ${name} event within ${timeoutMs} ms`)), timeoutMs);
      const onEvent = (e: QmpEvent) => {
        if (e.event === name) done(undefined, e);
      };
      const onClose = () => done(new Error(`qmp: closed before ${name}`));
      const done = (err?: Error, e?: QmpEvent) => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
        if (err) reject(err);
        else resolve(e!);
      };
      this.on('event', onEvent);
      this.once('close', onClose);
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('QMP' in msg) this.greeted();
      else if ('event' in msg) this.emit('event', msg as unknown as QmpEvent);
      else if ('return' in msg || 'error' in msg) {
        const p = this.pending.shift();
        if (!p) continue;
        if ('error' in msg) {
          const e = msg.error as { class?: string; desc?: string };
          p.reject(new Error(`qmp ${p.command}: ${e.class ?? 'Error'}: ${e.desc ?? ''}`));
        } else p.resolve(msg.return);
      }
    }
  }
}
