// Unit tests of BmcScheduler with controllable fake operations and fake timers: ordering and counters, no wall clock.

import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BmcScheduler, DEFAULT_BMC_SCHEDULER_OPTIONS } from '../../src/bmc/bmc-scheduler.js';
import { SimulatedDriver } from '../../src/bmc/simulated/simulated-driver.js';
import type { BmcTarget } from '../../src/bmc/bmc-driver.js';
import { RackhandError } from '../../src/errors.js';

const A = { host: '10.0.0.1', port: 623 };
const B = { host: '10.0.0.2', port: 623 };

/** An operation the test finishes by hand. */
function deferred<T = string>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function settle(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'OK',
    (e) => (e instanceof RackhandError ? e.code : `raw:${String(e)}`),
  );
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('BmcScheduler', () => {
  it('exports sane defaults', () => {
    expect(DEFAULT_BMC_SCHEDULER_OPTIONS.maxParallel).toBeGreaterThan(0);
    expect(DEFAULT_BMC_SCHEDULER_OPTIONS.operationTimeoutMs).toBeGreaterThan(DEFAULT_BMC_SCHEDULER_OPTIONS.minSpacingMs);
  });

  it('runs one command at a time per BMC, in order, while other BMCs proceed', async () => {
    const s = new BmcScheduler({ minSpacingMs: 0 });
    const started: string[] = [];
    const ops = new Map<string, ReturnType<typeof deferred>>();
    const op = (name: string) => () => {
      started.push(name);
      const d = deferred();
      ops.set(name, d);
      return d.promise;
    };
    const a1 = s.run(A, 'x', op('a1'));
    const a2 = s.run(A, 'x', op('a2'));
    const b1 = s.run(B, 'x', op('b1'));
    await settle();
    expect(started).toEqual(['a1', 'b1']);
    expect(s.stats()).toMatchObject({ inFlight: 2, queued: 1 });
    ops.get('a1')!.resolve('r1');
    await settle();
    expect(started).toEqual(['a1', 'b1', 'a2']);
    ops.get('a2')!.resolve('r2');
    ops.get('b1')!.resolve('rb');
    expect(await Promise.all([a1, a2, b1])).toEqual(['r1', 'r2', 'rb']);
  });

  it('keeps the minimum spacing between commands to one BMC', async () => {
    const s = new BmcScheduler({ minSpacingMs: 500 });
    const started: string[] = [];
    const p1 = s.run(A, 'x', async () => started.push('1'));
    const p2 = s.run(A, 'x', async () => started.push('2'));
    await settle();
    expect(started).toEqual(['1']);
    await settle(499);
    expect(started).toEqual(['1']);
    await settle(1);
    expect(started).toEqual(['1', '2']);
    await Promise.all([p1, p2]);
  });

  it('caps parallel operations globally', async () => {
    const s = new BmcScheduler({ maxParallel: 3, minSpacingMs: 0 });
    let running = 0;
    let peak = 0;
    const ds: ReturnType<typeof deferred>[] = [];
    const all = Array.from({ length: 10 }, (_, i) =>
      s.run({ host: `10.0.1.${i}`, port: 623 }, 'x', () => {
        running++;
        peak = Math.max(peak, running);
        const d = deferred();
        ds.push(d);
        return d.promise.finally(() => running--);
      }),
    );
    for (let k = 0; k < 10; k++) {
      await settle();
      expect(running).toBeLessThanOrEqual(3);
      ds.find((d, i) => i === k)?.resolve('ok');
    }
    await settle();
    await Promise.all(all);
    expect(peak).toBe(3);
    expect(ds).toHaveLength(10);
  });

  it('times out an operation with BMC_TIMEOUT and frees the BMC for the next command', async () => {
    const s = new BmcScheduler({ operationTimeoutMs: 1000, minSpacingMs: 0, breakerThreshold: 99 });
    const hung = s.run(A, 'powerStatus', () => new Promise(() => {}));
    const next = s.run(A, 'powerStatus', async () => 'on');
    const codes = codeOf(hung);
    await settle(1000);
    expect(await codes).toBe('BMC_TIMEOUT');
    expect(await next).toBe('on');
    expect(s.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('retries BMC_BUSY with growing backoff, then succeeds', async () => {
    const s = new BmcScheduler({ busyRetries: 3, busyBackoffMs: 100, busyBackoffMaxMs: 1000, minSpacingMs: 0 }, { random: () => 0.5 });
    let calls = 0;
    const p = s.run(A, 'x', async () => {
      calls++;
      if (calls < 3) throw new RackhandError('BMC_BUSY', 'busy');
      return 'done';
    });
    await settle();
    expect(calls).toBe(1);
    await settle(99);
    expect(calls).toBe(1);
    await settle(1);
    expect(calls).toBe(2);
    await settle(199); // second backoff doubles
    expect(calls).toBe(2);
    await settle(1);
    expect(await p).toBe('done');
    expect(calls).toBe(3);
  });

  it('gives up after busyRetries and reports BMC_BUSY', async () => {
    const s = new BmcScheduler({ busyRetries: 2, busyBackoffMs: 10, minSpacingMs: 0 });
    let calls = 0;
    const p = codeOf(
      s.run(A, 'x', async () => {
        calls++;
        throw new RackhandError('BMC_BUSY', 'busy');
      }),
    );
    await settle(1000);
    expect(await p).toBe('BMC_BUSY');
    expect(calls).toBe(3);
  });

  it('opens the circuit after repeated unreachable/timeout failures, fails fast, then half-opens', async () => {
    const s = new BmcScheduler({ breakerThreshold: 3, breakerCooldownMs: 10_000, minSpacingMs: 0, operationTimeoutMs: 100 });
    let calls = 0;
    let healthy = false;
    const op = async () => {
      calls++;
      if (!healthy) throw new RackhandError('BMC_UNREACHABLE', 'down');
      return 'on';
    };
    for (let k = 0; k < 2; k++) expect(await codeOf(s.run(A, 'x', op))).toBe('BMC_UNREACHABLE');
    // a timeout counts too
    const t = codeOf(s.run(A, 'x', () => new Promise(() => {})));
    await settle(100);
    expect(await t).toBe('BMC_TIMEOUT');
    expect(s.circuit(A)).toBe('open');

    const before = calls;
    const fast = s.run(A, 'x', op);
    await expect(fast).rejects.toMatchObject({ code: 'BMC_UNREACHABLE', details: { circuit: 'open' } });
    expect(calls).toBe(before);
    // other BMCs are unaffected
    expect(await s.run(B, 'x', async () => 'b')).toBe('b');

    await settle(10_000);
    expect(s.circuit(A)).toBe('half-open');
    // a failed trial opens it again at once
    expect(await codeOf(s.run(A, 'x', op))).toBe('BMC_UNREACHABLE');
    expect(s.circuit(A)).toBe('open');
    await settle(10_000);
    healthy = true;
    expect(await s.run(A, 'x', op)).toBe('on');
    expect(s.circuit(A)).toBe('closed');
  });

  it('rejects queued calls fast when the circuit opens under them', async () => {
    const s = new BmcScheduler({ breakerThreshold: 1, breakerCooldownMs: 5000, minSpacingMs: 0 });
    let calls = 0;
    const op = async () => {
      calls++;
      throw new RackhandError('BMC_UNREACHABLE', 'down');
    };
    const ps = [1, 2, 3].map(() => codeOf(s.run(A, 'x', op)));
    await settle();
    expect(await Promise.all(ps)).toEqual(['BMC_UNREACHABLE', 'BMC_UNREACHABLE', 'BMC_UNREACHABLE']);
    expect(calls).toBe(1);
  });

  it('auth or protocol errors do not trip the breaker', async () => {
    const s = new BmcScheduler({ breakerThreshold: 2, minSpacingMs: 0 });
    for (let k = 0; k < 5; k++) {
      expect(await codeOf(s.run(A, 'x', async () => { throw new RackhandError('BMC_AUTH_FAILED', 'no'); }))).toBe('BMC_AUTH_FAILED');
    }
    expect(s.circuit(A)).toBe('closed');
  });

  it('a throwing (non-async) operation is a rejection, not a crash, and the slot is freed', async () => {
    const s = new BmcScheduler({ minSpacingMs: 0 });
    const p = codeOf(s.run(A, 'x', () => { throw new Error('boom'); }));
    await settle();
    expect(await p).toBe('raw:Error: boom');
    expect(await s.run(A, 'x', async () => 1)).toBe(1);
  });

  it('wraps a driver: every method goes through the lane', async () => {
    const sim = new SimulatedDriver({ delayMs: 10, initialPower: 'off' });
    const s = new BmcScheduler({ minSpacingMs: 50 });
    const d = s.wrap(sim);
    const t: BmcTarget = { ...A, username: 'admin', password: 'pw', cipherSuite: 3, privilege: 'administrator' };
    const p1 = d.power(t, 'on');
    const p2 = d.powerStatus(t);
    await settle(10);
    expect(sim.calls).toEqual(['10.0.0.1:623 power']);
    await settle(100);
    await p1;
    expect(await p2).toBe('on');
    expect(sim.calls).toEqual(['10.0.0.1:623 power', '10.0.0.1:623 powerStatus']);
    expect(d.name).toBe('simulated');
  });

  it('the timeout aborts the signal the operation got, with the BMC_TIMEOUT it reports', async () => {
    const s = new BmcScheduler({ operationTimeoutMs: 1000, minSpacingMs: 0 });
    let seen: AbortSignal | undefined;
    const p = codeOf(s.run(A, 'powerStatus', (signal) => {
      seen = signal;
      return new Promise(() => undefined); // a driver that never answers by itself
    }));
    await settle(999);
    expect(seen!.aborted).toBe(false);
    await settle(1);
    expect(seen!.aborted).toBe(true);
    expect((seen!.reason as RackhandError).code).toBe('BMC_TIMEOUT');
    expect(await p).toBe('BMC_TIMEOUT');
  });

  it("a caller's abort: a queued call leaves the queue without running, a running one is aborted; neither counts against the BMC", async () => {
    const s = new BmcScheduler({ minSpacingMs: 0, breakerThreshold: 1 });
    const first = deferred();
    let firstSignal: AbortSignal | undefined;
    const ran: string[] = [];
    const running = new AbortController();
    const queued = new AbortController();
    const p1 = s.run(A, 'x', (signal) => {
      ran.push('first');
      firstSignal = signal;
      return first.promise;
    }, running.signal).catch((e: unknown) => e);
    const p2 = s.run(A, 'x', async () => {
      ran.push('second');
      return 'second';
    }, queued.signal).catch((e: unknown) => e);
    await settle();
    const reason = new RackhandError('TASK_CANCELLED', 'cancelled');
    queued.abort(reason);
    expect(await p2).toBe(reason);
    running.abort(reason);
    expect(firstSignal!.aborted).toBe(true);
    expect(await p1).toBe(reason);
    expect(ran).toEqual(['first']);
    expect(s.circuit(A)).toBe('closed'); // a cancel says nothing about the BMC
    expect(await s.run(A, 'x', async () => 'next')).toBe('next');
  });

  it("one signal for many calls (a task's): no abort listener is left behind once each call settles", async () => {
    const s = new BmcScheduler({ minSpacingMs: 0 });
    const task = new AbortController();
    for (let i = 0; i < 50; i++) await s.run(A, 'x', async () => i, task.signal);
    expect(getEventListeners(task.signal, 'abort')).toHaveLength(0);
  });

  it('the driver middleware passes the scheduler signal to the driver', async () => {
    const sim = new SimulatedDriver();
    sim.injectFault('10.0.0.1:623', { kind: 'hang' });
    const s = new BmcScheduler({ operationTimeoutMs: 500, minSpacingMs: 0 });
    const t: BmcTarget = { ...A, username: 'admin', password: 'pw', cipherSuite: 3, privilege: 'administrator' };
    const p = codeOf(s.wrap(sim).powerStatus(t));
    await settle(1);
    expect(sim.hangingCalls).toBe(1);
    await settle(500);
    expect(await p).toBe('BMC_TIMEOUT');
    expect(sim.hangingCalls).toBe(0);
  });
});
