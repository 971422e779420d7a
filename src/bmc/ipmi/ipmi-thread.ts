// The `ipmi` driver run on a worker thread: RMCP+ handshakes, AES and HMAC on every packet, and the UDP sockets of a
// site sweep stay off the event loop that answers the API. This side is a BmcDriver like any other (the scheduler and
// the metrics wrap it on the main thread). Calls cross in batches, one message per event-loop turn each way: a sweep
// starts and finishes dozens of calls per turn, and a message per call cost each thread a wake-up per BMC.
import { Worker } from 'node:worker_threads';
import { RackhandError, type ErrorCode } from '../../errors.js';
import { BMC_OPERATIONS, type BmcCallOptions, type BmcDriver, type BmcOperation, type BmcTarget } from '../bmc-driver.js';
import type { IpmiDriverOptions, IpmiDriverStats } from './ipmi-driver.js';

/** The driver options that cross to the thread (plain data: no logger, transport or callbacks). */
export type IpmiThreadOptions = Pick<IpmiDriverOptions, 'reuseSessions' | 'keepaliveMs' | 'idleCloseMs' | 'timeoutMs' | 'retries'>;

/** One request to the thread; the main thread posts them as arrays, in order. */
export type ToIpmiThread =
  | { kind: 'call'; id: number; op: BmcOperation; target: BmcTarget; args: unknown[] }
  | { kind: 'cancel'; id: number }
  | { kind: 'close' };

export interface ThreadError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface CallDone {
  id: number;
  value?: unknown;
  error?: ThreadError;
}

export type FromIpmiThread =
  | { kind: 'done'; answers: CallDone[]; stats: IpmiDriverStats }
  | { kind: 'closed' };

interface Call {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  settled: () => void;
}

const NO_STATS: IpmiDriverStats = {
  rejectedDatagrams: 0, rejectedByReason: {}, handlerErrors: 0, exchangesInFlight: 0, sessionsOpened: 0, handshakes: 0, retransmits: 0,
};

// Every operation of the contract is the same call across, made in the static block from BMC_OPERATIONS: adding one to
// the contract needs nothing here.
export interface IpmiThreadDriver extends Pick<BmcDriver, BmcOperation> {}

export class IpmiThreadDriver implements BmcDriver {
  readonly name = 'ipmi';
  private worker?: Worker;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  /** Requests of this turn, posted together when it ends. */
  private outbox: ToIpmiThread[] = [];
  /** The thread's counters as of its last answers: every batch of answers carries them, so they are current after any call. */
  private lastStats: IpmiDriverStats = NO_STATS;

  /** `entry`: the worker script; the compiled ipmi-worker.js beside this file unless a test names another. */
  constructor(
    private readonly opts: IpmiThreadOptions = {},
    private readonly entry: URL = new URL('./ipmi-worker.js', import.meta.url),
  ) {}

  stats(): IpmiDriverStats {
    return this.lastStats;
  }

  /** Started at the first call, so a daemon without IPMI BMCs runs no thread for them. */
  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.entry, { workerData: this.opts });
    w.unref(); // referenced only while a call waits (see call())
    w.on('message', (m: FromIpmiThread) => {
      if (m.kind !== 'done') return;
      this.lastStats = m.stats;
      for (const a of m.answers) {
        const c = this.calls.get(a.id);
        if (!c) continue; // cancelled meanwhile
        c.settled();
        if (a.error) c.reject(new RackhandError(a.error.code, a.error.message, a.error.details));
        else c.resolve(a.value);
      }
    });
    // A thread that dies (a bug, out of memory) fails the calls it held; the next call starts a new one.
    const lost = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const c of [...this.calls.values()]) {
        c.settled();
        c.reject(new RackhandError('BMC_ERROR', `the IPMI thread stopped (${why}); the call may or may not have reached the BMC`));
      }
    };
    w.on('error', (e) => lost(e.message));
    w.on('exit', (code) => lost(`exit code ${code}`));
    this.worker = w;
    return w;
  }

  private post(w: Worker, m: ToIpmiThread): void {
    if (this.outbox.push(m) > 1) return;
    setImmediate(() => {
      const batch = this.outbox;
      this.outbox = [];
      // A thread lost meanwhile already failed these calls; a new one must not get the old batch.
      if (this.worker === w) w.postMessage(batch);
    });
  }

  private call<T>(op: BmcOperation, target: BmcTarget, args: unknown[], o?: BmcCallOptions): Promise<T> {
    const signal = o?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = this.thread();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        settled();
        this.post(w, { kind: 'cancel', id });
        reject(signal!.reason);
      };
      const settled = (): void => {
        this.calls.delete(id);
        signal?.removeEventListener('abort', onAbort);
        if (this.calls.size === 0) w.unref();
      };
      if (this.calls.size === 0) w.ref();
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject, settled });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.post(w, { kind: 'call', id, op, target, args });
    });
  }

  /** Closes the thread's sessions (Close Session to each BMC), then the thread. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    w.ref();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 10_000); // sessions that do not close in time are the BMCs' to expire
      w.on('message', (m: FromIpmiThread) => {
        if (m.kind !== 'closed') return;
        clearTimeout(t);
        resolve();
      });
      w.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      w.postMessage([...this.outbox, { kind: 'close' }] satisfies ToIpmiThread[]);
      this.outbox = [];
    });
    await w.terminate();
  }

  static {
    for (const [op, between] of Object.entries(BMC_OPERATIONS) as [BmcOperation, number][]) {
      Object.defineProperty(this.prototype, op, {
        value(this: IpmiThreadDriver, target: BmcTarget, ...rest: unknown[]): Promise<unknown> {
          // Exactly `between` arguments, so the worker finds the options where the contract puts them.
          const args = Array.from({ length: between }, (_, i) => rest[i]);
          return this.call(op, target, args, rest[between] as BmcCallOptions | undefined);
        },
      });
    }
  }
}
