// Drivers by name, and the one door the rest of rackhand uses to reach a server's BMC: driver + target,
// every call passed through the per-BMC scheduler.
import { RackhandError } from '../errors.js';
import type { BmcDriver, BmcTarget } from './bmc-driver.js';

export interface BmcCallScheduler {
  /** Run one BMC command under the per-BMC rules (one in flight, spacing, global cap, timeout, breaker). */
  run<T>(bmcKey: string, op: () => Promise<T>): Promise<T>;
}

export interface BmcTargetSource {
  bmcTarget(serverId: number): BmcTarget & { driver: string };
}

export class BmcDrivers {
  private readonly byName = new Map<string, BmcDriver>();

  constructor(
    drivers: BmcDriver[],
    private readonly targets: BmcTargetSource,
    private readonly scheduler: BmcCallScheduler,
  ) {
    for (const d of drivers) this.byName.set(d.name, d);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  driver(name: string): BmcDriver {
    const d = this.byName.get(name);
    if (!d) throw new RackhandError('BMC_UNSUPPORTED', `no BMC driver named ${name} on this rackhand`, { driver: name });
    return d;
  }

  /** Call the server's BMC through its driver, under the scheduler. */
  async call<T>(serverId: number, op: (driver: BmcDriver, target: BmcTarget) => Promise<T>): Promise<T> {
    const { driver: name, ...target } = this.targets.bmcTarget(serverId);
    const driver = this.driver(name);
    return this.scheduler.run(`${target.host}:${target.port}`, () => op(driver, target));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.byName.values()].map((d) => d.close()));
  }
}
