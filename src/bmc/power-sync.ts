// The power-state sync loop: jittered periodic status reads of every server's BMC, stored as last known power.
import { setMaxListeners } from 'node:events';
import type { Logger } from '../log.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { BmcDrivers } from './bmc-drivers.js';

export interface PowerSyncOptions {
  enabled: boolean;
  intervalMs: number;
  /** Fraction of the interval added or removed at random, so many sites do not poll in lockstep. */
  jitter: number;
  /** Reads in flight at once (the scheduler's global cap still applies). */
  concurrency: number;
}

export class PowerSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  /** The passes running now; stop() aborts them, so reads still queued or running end at once. */
  private readonly passes = new Set<AbortController>();

  constructor(
    private readonly servers: ServersRepo,
    private readonly bmc: BmcDrivers,
    private readonly opts: PowerSyncOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (!this.opts.enabled) return;
    this.stopped = false;
    this.schedule(Math.min(2000, this.opts.intervalMs));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const p of this.passes) p.abort(new Error('power sync stopped'));
    await this.running;
  }

  /**
   * One pass over every server with a BMC, a bounded number at a time: queueing thousands of reads at once
   * would stall the event loop (and the API) for the whole site's worth of bookkeeping.
   */
  async syncOnce(): Promise<{ read: number; unreachable: number }> {
    const ids = this.servers.idsWithBmc();
    let unreachable = 0;
    let next = 0;
    let reads: { id: number; state: 'on' | 'off' | 'unreachable' }[] = [];
    const flush = () => {
      if (reads.length) this.servers.recordPowerMany(reads);
      reads = [];
    };
    const pass = new AbortController();
    // Every read in flight listens to the pass's signal (scheduler, driver, session: a few each), so more than
    // Node's default of 10 is the normal case, not a leak: without this, each pass printed a MaxListenersExceededWarning.
    setMaxListeners(0, pass.signal);
    this.passes.add(pass);
    const signal = pass.signal;
    const worker = async () => {
      while (next < ids.length && !signal.aborted) {
        const id = ids[next++];
        try {
          // Awaited before `reads` is named: `reads.push(await …)` would push into the batch array of the moment the
          // read began, which another worker may have written and replaced meanwhile (that read was then lost).
          const state = await this.bmc.call(id, (d, t) => d.powerStatus(t, { signal }));
          reads.push({ id, state });
        } catch (e) {
          if (signal.aborted) break; // stopped: not a fact about this BMC
          unreachable++;
          reads.push({ id, state: 'unreachable' });
          this.log.debug({ server: id, code: (e as { code?: string }).code }, 'power sync: BMC did not answer');
        }
        if (reads.length >= 256) flush();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, ids.length) }, worker));
    } finally {
      this.passes.delete(pass);
    }
    flush();
    return { read: ids.length - unreachable, unreachable };
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.syncOnce()
        .then((r) => this.log.debug(r, 'power sync pass'))
        .catch((e) => this.log.error({ err: e }, 'power sync pass failed'))
        .finally(() => {
          const spread = this.opts.intervalMs * this.opts.jitter;
          this.schedule(this.opts.intervalMs - spread + Math.random() * 2 * spread);
        });
    }, delay);
    this.timer.unref();
  }
}
