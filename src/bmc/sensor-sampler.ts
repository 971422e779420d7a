// The sensor sampling loop: jittered periodic reads of every server with a BMC — its sensors and, where the BMC measures
// it, the power it draws, stored as history; its event log, less often — pruned by age.
import type { BmcEventLogEntry, BmcPowerReading, SensorReading } from './bmc-driver.js';
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
  /** A server's event log is read in the first pass after this long since its last read; 0: never by the sampler. */
  eventLogIntervalMs: number;
}

export const DEFAULT_SENSOR_SAMPLER_OPTIONS: SensorSamplerOptions = {
  enabled: true,
  intervalMs: 5 * 60_000,
  jitter: 0.2,
  retentionMs: 7 * 24 * 3600_000,
  concurrency: 4,
  eventLogIntervalMs: 3600_000,
};

/** What the power reading is stored as, beside the sensors (one series in the history and the chart). */
export const POWER_READING_SENSOR = 'Power consumption';

/** A BMC found not to have a reading is asked again after this long (its firmware may be updated). */
const UNSUPPORTED_RETRY_MS = 24 * 3600_000;

export interface SensorSamplerDeps {
  history: SensorHistoryRepo;
  /** Which servers to sample (servers.idsWithBmc()). */
  serverIds(): number[];
  /** Read one server's sensors, e.g. bmc.call(id, (d, t) => d.sensors(t)): not a task, so no journal noise. */
  readSensors(serverId: number): Promise<SensorReading[]>;
  /** The power the server draws (DCMI, Redfish PowerControl); BMC_UNSUPPORTED where the BMC does not measure it. */
  readPower?(serverId: number): Promise<BmcPowerReading>;
  /** The BMC's event log; each read is handed to onEventLog (which counts new critical entries). */
  readEventLog?(serverId: number): Promise<BmcEventLogEntry[]>;
  onEventLog?(serverId: number, entries: BmcEventLogEntry[]): void;
  log?: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
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
  /** Servers whose BMC said BMC_UNSUPPORTED to a reading, and when: not asked again for a day. */
  private readonly unsupported = { power: new Map<number, number>(), eventLog: new Map<number, number>() };
  /** When each server's event log was last read by a pass. */
  private readonly eventLogReadAt = new Map<number, number>();

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
          const power = await this.optional('power', id, () => this.d.readPower?.(id));
          if (power) readings.push({ name: POWER_READING_SENSOR, type: 'power', value: power.watts, unit: 'Watts', status: 'ok', thresholds: {} });
          stored += this.d.history.append(id, readings, now());
          read++;
        } catch (e) {
          failed++;
          this.d.log?.debug({ server: id, code: (e as { code?: string }).code, err: (e as Error).message }, 'sensor sample failed');
        }
        await this.eventLogIfDue(id, now().getTime());
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.opts.concurrency, ids.length)) }, worker));
    const pruned = this.d.history.prune(new Date(now().getTime() - this.opts.retentionMs));
    this.passes++;
    return { servers: ids.length, read, failed, stored, pruned };
  }

  private async eventLogIfDue(id: number, at: number): Promise<void> {
    const every = this.opts.eventLogIntervalMs;
    if (!this.d.readEventLog || every <= 0 || at - (this.eventLogReadAt.get(id) ?? -Infinity) < every) return;
    this.eventLogReadAt.set(id, at);
    try {
      const entries = await this.optional('eventLog', id, () => this.d.readEventLog?.(id));
      if (entries) this.d.onEventLog?.(id, entries);
    } catch (e) {
      this.d.log?.debug({ server: id, code: (e as { code?: string }).code, err: (e as Error).message }, 'event log read failed');
    }
  }

  /**
   * A reading not every BMC has: BMC_UNSUPPORTED is not a failure — the server is noted once in the log and not asked
   * again for a day. Any other error is thrown.
   */
  private async optional<T>(what: 'power' | 'eventLog', id: number, read: () => Promise<T> | undefined): Promise<T | undefined> {
    const since = this.unsupported[what].get(id);
    if (since !== undefined && Date.now() - since < UNSUPPORTED_RETRY_MS) return undefined;
    try {
      return await read();
    } catch (e) {
      if ((e as { code?: string }).code !== 'BMC_UNSUPPORTED') {
        if (what === 'power') return undefined; // the sensors were read: a failed extra reading does not lose them
        throw e;
      }
      if (since === undefined) {
        this.d.log?.info({ server: id, reading: what }, `server ${id}'s BMC has no ${what === 'power' ? 'power reading' : 'event log'}: not sampled (${(e as Error).message})`);
      }
      this.unsupported[what].set(id, Date.now());
      return undefined;
    }
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
