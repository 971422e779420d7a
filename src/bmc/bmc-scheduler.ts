// Per-BMC scheduling of driver calls: one command in flight per BMC, spacing, a global cap, timeouts, busy backoff, a circuit breaker.

import { RackhandError } from '../errors.js';
import { bmcAddress, type BmcDriver, type BmcTarget } from './bmc-driver.js';
import { withBmcMiddleware, type BmcMiddleware } from './bmc-middleware.js';

export interface BmcSchedulerOptions {
  /** Global cap on BMC operations running at once, all BMCs together. */
  maxParallel: number;
  /** Quiet time after one command to a BMC ends before the next one starts (BMCs drop bursts). */
  minSpacingMs: number;
  /** One attempt of an operation; past it the caller gets BMC_TIMEOUT and the slots are released. */
  operationTimeoutMs: number;
  /** Extra attempts after BMC_BUSY ("insufficient resources for session", node busy). */
  busyRetries: number;
  /** First backoff after BMC_BUSY; doubles per retry up to busyBackoffMaxMs, with ±20 % jitter. */
  busyBackoffMs: number;
  busyBackoffMaxMs: number;
  /** Consecutive BMC_UNREACHABLE / BMC_TIMEOUT failures that open a BMC's circuit. */
  breakerThreshold: number;
  /** How long an open circuit fails calls fast before one trial call is let through (half-open). */
  breakerCooldownMs: number;
}

export const DEFAULT_BMC_SCHEDULER_OPTIONS: Readonly<BmcSchedulerOptions> = Object.freeze({
  maxParallel: 64,
  minSpacingMs: 100,
  operationTimeoutMs: 30_000,
  busyRetries: 3,
  busyBackoffMs: 1_000,
  busyBackoffMaxMs: 8_000,
  breakerThreshold: 3,
  breakerCooldownMs: 30_000,
});

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface BmcSchedulerDeps {
  now?: () => number;
  random?: () => number;
}

interface Job {
  op: string;
  /** Gets the signal of this attempt: aborted on the scheduler's timeout or when the caller's signal aborts. */
  fn: (signal: AbortSignal) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  attempt: number;
  /** The caller's signal; aborting it takes a queued job out of its queue, and stops a running one. */
  signal?: AbortSignal;
  /** Settled already (cancelled while queued): skip it. */
  gone: boolean;
}

interface BmcLane {
  key: string;
  queue: Job[];
  running: boolean;
  nextAt: number; // earliest start of the next command (spacing, busy backoff)
  timer: ReturnType<typeof setTimeout> | undefined;
  failures: number; // consecutive unreachable/timeout
  openUntil: number | undefined; // circuit open until then; past it, the next call is the half-open trial
  trial: boolean; // the running call is the half-open trial
  ready: boolean; // in the ready queue
}

type Target = Pick<BmcTarget, 'host' | 'port'>;

export class BmcScheduler {
  private readonly opts: BmcSchedulerOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly lanes = new Map<string, BmcLane>();
  private inFlight = 0;
  private finished = 0;
  /**
   * Lanes whose next job may start now, in the order they became ready (oldest first across BMCs). A queue, not
   * a scan: with thousands of BMCs (a site's power sync) every start and finish stays O(1).
   */
  private ready: BmcLane[] = [];
  private readyHead = 0;

  constructor(options: Partial<BmcSchedulerOptions> = {}, deps: BmcSchedulerDeps = {}) {
    this.opts = { ...DEFAULT_BMC_SCHEDULER_OPTIONS, ...options };
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  /**
   * Runs `fn` for the BMC at target when its turn comes. `op` names the call in errors. fn gets a signal that aborts
   * when the attempt times out or `signal` (the caller's) aborts; the driver then stops working on it.
   */
  run<T>(target: Target, op: string, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const lane = this.lane(target);
    const open = this.openRemaining(lane);
    if (open > 0) return Promise.reject(this.circuitError(lane, op, open));
    return new Promise<T>((resolve, reject) => {
      // Still queued (or waiting out a busy backoff): out of the queue now. Running: start() stops it.
      const onAbort = (): void => {
        const i = lane.queue.indexOf(job);
        if (i === -1) return;
        lane.queue.splice(i, 1);
        job.gone = true;
        reject(signal!.reason);
      };
      // A task's signal serves many calls: each call's listener goes when the call settles.
      const settled = (): void => signal?.removeEventListener('abort', onAbort);
      const job: Job = {
        op, fn, attempt: 0, signal, gone: false,
        resolve: (v) => {
          settled();
          resolve(v as T);
        },
        reject: (e) => {
          settled();
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      lane.queue.push(job);
      this.makeReady(lane);
      this.pump();
    });
  }

  /** Scheduling as a driver middleware: every operation of a wrapped driver goes through run(). */
  readonly middleware: BmcMiddleware = (call, next) =>
    this.run(call.target, call.op, (signal) => next({ ...call.options, signal }), call.options.signal);

  /** The same driver, with every call going through this scheduler. */
  wrap(driver: BmcDriver): BmcDriver {
    return withBmcMiddleware(driver, this.middleware);
  }

  circuit(target: Target): CircuitState {
    const lane = this.lanes.get(bmcAddress(target));
    if (!lane || lane.openUntil === undefined) return 'closed';
    return this.openRemaining(lane) > 0 ? 'open' : 'half-open';
  }

  stats(): { inFlight: number; queued: number; openCircuits: number } {
    let queued = 0;
    let openCircuits = 0;
    for (const l of this.lanes.values()) {
      queued += l.queue.length;
      if (this.openRemaining(l) > 0) openCircuits++;
    }
    return { inFlight: this.inFlight, queued, openCircuits };
  }

  // ------------------------------------------------------------ internals

  private lane(t: Target): BmcLane {
    const key = bmcAddress(t);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, queue: [], running: false, nextAt: 0, timer: undefined, failures: 0, openUntil: undefined, trial: false, ready: false };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private openRemaining(lane: BmcLane): number {
    return lane.openUntil === undefined ? 0 : Math.max(0, lane.openUntil - this.now());
  }

  private circuitError(lane: BmcLane, op: string, remainingMs: number): RackhandError {
    return new RackhandError('BMC_UNREACHABLE', `BMC ${lane.key} failed repeatedly; not trying again for ${Math.ceil(remainingMs / 1000)} s`, {
      bmc: lane.key,
      op,
      circuit: 'open',
      retryAfterMs: remainingMs,
    });
  }

  /** Queue a lane whose next job may start, or arm its timer when it must wait (spacing, busy backoff). */
  private makeReady(lane: BmcLane): void {
    if (lane.running || lane.ready || lane.queue.length === 0) return;
    const wait = lane.nextAt - this.now();
    if (wait > 0) return this.arm(lane, wait);
    lane.ready = true;
    this.ready.push(lane);
  }

  /** Starts ready jobs, oldest first, up to the global cap. */
  private pump(): void {
    while (this.inFlight < this.opts.maxParallel && this.readyHead < this.ready.length) {
      const lane = this.ready[this.readyHead++]!;
      lane.ready = false;
      if (lane.running || lane.queue.length === 0) continue;
      const open = this.openRemaining(lane);
      if (open > 0) {
        for (const job of lane.queue.splice(0)) job.reject(this.circuitError(lane, job.op, open));
        continue;
      }
      const wait = lane.nextAt - this.now();
      if (wait > 0) {
        this.arm(lane, wait);
        continue;
      }
      const job = lane.queue.shift()!;
      if (job.gone) {
        this.makeReady(lane);
        continue;
      }
      this.start(lane, job);
    }
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
  }

  private arm(lane: BmcLane, ms: number): void {
    if (lane.timer !== undefined) return;
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      this.makeReady(lane);
      this.pump();
    }, ms);
  }

  private start(lane: BmcLane, job: Job): void {
    lane.running = true;
    lane.trial = lane.openUntil !== undefined; // cool-down over: this call decides
    this.inFlight++;
    let done = false;
    const attempt = new AbortController();
    const timer = setTimeout(() => {
      const e = new RackhandError('BMC_TIMEOUT', `BMC ${lane.key} did not complete ${job.op} within ${this.opts.operationTimeoutMs} ms`, {
        bmc: lane.key,
        op: job.op,
      });
      attempt.abort(e); // the driver drops the call (no more retransmits, its ipmitool child killed)
      finish(false, e);
    }, this.opts.operationTimeoutMs);
    const onCallerAbort = (): void => {
      attempt.abort(job.signal!.reason);
      finish(false, job.signal!.reason, true);
    };
    job.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const finish = (ok: boolean, value: unknown, cancelled = false): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      job.signal?.removeEventListener('abort', onCallerAbort);
      lane.running = false;
      this.inFlight--;
      lane.nextAt = Math.max(lane.nextAt, this.now() + this.opts.minSpacingMs);
      if (cancelled) {
        // The caller gave up: that says nothing about the BMC (no breaker count, no busy retry).
        lane.trial = false;
        job.gone = true;
        job.reject(value);
      } else this.settle(lane, job, ok, value);
      this.makeReady(lane);
      if (++this.finished % 1024 === 0) this.forget();
      this.pump();
    };
    let p: Promise<unknown>;
    try {
      p = job.fn(attempt.signal);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => finish(true, v),
      (e) => finish(false, e),
    );
  }

  private settle(lane: BmcLane, job: Job, ok: boolean, value: unknown): void {
    const wasTrial = lane.trial;
    lane.trial = false;
    if (ok) {
      lane.failures = 0;
      lane.openUntil = undefined;
      job.resolve(value);
      return;
    }
    const code = value instanceof RackhandError ? value.code : undefined;
    if (code === 'BMC_UNREACHABLE' || code === 'BMC_TIMEOUT') {
      lane.failures++;
      if (wasTrial || lane.failures >= this.opts.breakerThreshold) lane.openUntil = this.now() + this.opts.breakerCooldownMs;
      job.reject(value);
      return;
    }
    // Any other answer proves the BMC is there.
    lane.failures = 0;
    lane.openUntil = undefined;
    if (code === 'BMC_BUSY' && job.attempt < this.opts.busyRetries) {
      const base = Math.min(this.opts.busyBackoffMaxMs, this.opts.busyBackoffMs * 2 ** job.attempt);
      const delay = Math.round(base * (0.8 + 0.4 * this.random()));
      job.attempt++;
      lane.nextAt = Math.max(lane.nextAt, this.now() + delay);
      lane.queue.unshift(job); // same logical command: it keeps its place at the head
      return;
    }
    job.reject(value);
  }

  /** Drops idle lanes with nothing to remember, so a site's churn does not grow the map forever. */
  private forget(): void {
    if (this.lanes.size < 4096) return;
    const now = this.now();
    for (const [k, l] of this.lanes) {
      if (!l.running && !l.ready && l.queue.length === 0 && l.timer === undefined && l.failures === 0 && l.openUntil === undefined && l.nextAt <= now) {
        this.lanes.delete(k);
      }
    }
  }
}
