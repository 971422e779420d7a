// Drivers by name, and the one door the rest of rackhand uses to reach a server's BMC: its driver (already
// wrapped by the per-BMC scheduler) and its login.
import { RackhandError } from '../errors.js';
import type { BmcDriver, BmcTarget } from './bmc-driver.js';

export interface BmcTargetSource {
  bmcTarget(serverId: number): BmcTarget & { driver: string };
}

export class BmcDrivers {
  private readonly byName = new Map<string, BmcDriver>();

  constructor(
    drivers: BmcDriver[],
    private readonly targets: BmcTargetSource,
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

  /** Call the server's BMC through its driver. */
  async call<T>(serverId: number, op: (driver: BmcDriver, target: BmcTarget) => Promise<T>): Promise<T> {
    const { driver: name, ...target } = this.targets.bmcTarget(serverId);
    return op(this.driver(name), target);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.byName.values()].map((d) => d.close()));
  }
}
