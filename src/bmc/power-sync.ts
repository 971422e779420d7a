// The power-state sync loop: jittered periodic status reads of every server's BMC, stored as last known power.
import type { Logger } from '../log.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { BmcDrivers } from './bmc-drivers.js';

export interface PowerSyncOptions {
  enabled: boolean;
  intervalMs: number;
  /** Fraction of the interval added or removed at random, so many sites do not poll in lockstep. */
  jitter: number;
}

export class PowerSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

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
    await this.running;
  }

  /** One pass over every server with a BMC; the scheduler bounds how many run at once. */
  async syncOnce(): Promise<{ read: number; unreachable: number }> {
    const ids = this.servers.idsWithBmc();
    let unreachable = 0;
    await Promise.all(
      ids.map((id) =>
        this.bmc
          .call(id, (d, t) => d.powerStatus(t))
          .then(
            (state) => this.servers.recordPower(id, state),
            (e) => {
              unreachable++;
              this.servers.recordBmcUnreachable(id);
              this.log.debug({ server: id, code: (e as { code?: string }).code }, 'power sync: BMC did not answer');
            },
          ),
      ),
    );
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
