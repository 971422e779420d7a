// Drivers by name, and the one door the rest of rackhand uses to reach a server's BMC: its driver (already
// wrapped by the per-BMC scheduler) and its login.
import { RackhandError } from '../errors.js';
import type { BmcDriver, BmcTarget } from './bmc-driver.js';

export interface BmcTargetSource {
  bmcTarget(serverId: number): BmcTarget & { driver: string };
}

/** What a BMC call's outcome says of the BMC's health: its error code, or null when it answered. */
export type BmcOutcomeSink = (serverId: number, errorCode: string | null) => void;

/** Codes that say something about the BMC itself (not "this BMC lacks that command"). */
const HEALTH_CODES = new Set(['BMC_UNREACHABLE', 'BMC_AUTH_FAILED', 'BMC_TIMEOUT', 'BMC_BUSY', 'BMC_ERROR']);

export class BmcDrivers {
  private readonly byName = new Map<string, BmcDriver>();

  constructor(
    drivers: BmcDriver[],
    private readonly targets: BmcTargetSource,
    /** Told of every call's outcome (the last BMC error shown with the server: the sweep's and every task's). */
    private readonly onOutcome?: BmcOutcomeSink,
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
    const driver = this.driver(name);
    try {
      const r = await op(driver, target);
      this.onOutcome?.(serverId, null);
      return r;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && HEALTH_CODES.has(code)) this.onOutcome?.(serverId, code);
      throw e;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.byName.values()].map((d) => d.close()));
  }
}
