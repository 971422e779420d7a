// The sensor sampling loop: jittered periodic reads of every server with a BMC, stored as history, pruned by age.
import type { SensorReading } from './bmc-driver.js';
import type { Logger } from '../log.js';
import type { SensorHistoryRepo } from '../store/repos/sensor-history-repo.js';

export interface SensorSamplerOptions {
  enabled: boolean;
  intervalMs: number;
  /** Fraction of the interval added or removed at random, so sites and passes do not run in lockstep. */
  jitter: number;
  /** Samples older than this are pruned after each pass. */
  retentionMs: number;
  /** Reads in flight at once; the BMC scheduler still applies its own per-BMC and global limits. */
  concurrency: number;
}

export const DEFAULT_SENSOR_SAMPLER_OPTIONS: SensorSamplerOptions = {
  enabled: true,
  intervalMs: 5 * 60_000,
  jitter: 0.2,
  retentionMs: 7 * 24 * 3600_000,
  concurrency: 4,
};

export interface SensorSamplerDeps {
  history: SensorHistoryRepo;
  /** Which servers to sample (servers.idsWithBmc()). */
  serverIds(): number[];
  /** Read one server's sensors, e.g. bmc.call(id, (d, t) => d.sensors(t)): not a task, so no journal noise. */
  readSensors(serverId: number): Promise<SensorReading[]>;
  log?: Pick<Logger, 'debug' | 'warn' | 'error'>;
  now?(): Date;
}

export interface SamplePassResult {
  servers: number;
  read: number;
  failed: number;
  stored: number;
  pruned: number;
}

export class SensorSampler {
  private readonly opts: SensorSamplerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  private passes = 0;
  /** Set by stop(): a pass in progress finishes the reads in flight and starts no more. */
  private cancelPass = false;

  constructor(
    private readonly d: SensorSamplerDeps,
    opts: Partial<SensorSamplerOptions> = {},
  ) {
    this.opts = { ...DEFAULT_SENSOR_SAMPLER_OPTIONS, ...opts };
  }

  start(): void {
    if (!this.opts.enabled || !this.stopped) return;
    this.stopped = false;
    // The first pass soon after start, so a fresh page has something to chart — but after the first power sync
    // has had the BMCs (and the store) to itself: two site-wide loops at once double the API's tail latency.
    this.schedule(Math.min(30_000, this.jittered()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelPass = true;
    clearTimeout(this.timer);
    await this.running;
  }

  get passCount(): number {
    return this.passes;
  }

  /** One pass over every server; a failing BMC is skipped (logged), never stops the pass. */
  async sampleOnce(): Promise<SamplePassResult> {
    this.cancelPass = false;
    const ids = this.d.serverIds();
    const now = () => this.d.now?.() ?? new Date();
    let read = 0;
    let failed = 0;
    let stored = 0;
    let next = 0;
    const worker = async () => {
      while (!this.cancelPass && next < ids.length) {
        const id = ids[next++];
        try {
          const readings = await this.d.readSensors(id);
          stored += this.d.history.append(id, readings, now());
          read++;
        } catch (e) {
          failed++;
          this.d.log?.debug({ server: id, code: (e as { code?: string }).code, err: (e as Error).message }, 'sensor sample failed');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.opts.concurrency, ids.length)) }, worker));
    const pruned = this.d.history.prune(new Date(now().getTime() - this.opts.retentionMs));
    this.passes++;
    return { servers: ids.length, read, failed, stored, pruned };
  }

  private jittered(): number {
    const spread = this.opts.intervalMs * this.opts.jitter;
    return Math.max(0, this.opts.intervalMs - spread + Math.random() * 2 * spread);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sampleOnce()
        .then((r) => this.d.log?.debug(r, 'sensor sample pass'))
        .catch((e) => this.d.log?.error({ err: e }, 'sensor sample pass failed'))
        .finally(() => this.schedule(this.jittered()));
    }, delay);
    this.timer.unref();
  }
}
