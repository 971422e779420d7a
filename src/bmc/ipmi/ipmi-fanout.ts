// Power status of many BMCs at once from one event loop (the sync loop and bench/ipmi-fanout use it).
import { toRackhandError, type RackhandError } from '../../errors.js';
import type { BmcTarget, PowerState } from '../bmc-driver.js';
import { IpmiDriver, type IpmiDriverOptions } from './ipmi-driver.js';

export type PowerStatusResult =
  | { target: BmcTarget; state: PowerState; error?: undefined }
  | { target: BmcTarget; state?: undefined; error: RackhandError };

export interface PowerStatusManyOptions extends IpmiDriverOptions {
  /** Use this driver (and keep its sessions); otherwise a throwaway driver without session reuse is made. */
  driver?: IpmiDriver;
  /** At most this many BMCs in flight (each holds one UDP socket); default 512. */
  concurrency?: number;
}

/** Results in the order of `targets`; a failing BMC yields its error, never a rejection. */
export async function powerStatusMany(targets: readonly BmcTarget[], opts: PowerStatusManyOptions = {}): Promise<PowerStatusResult[]> {
  // A throwaway driver: one-shot sessions at User privilege (no Set Session Privilege Level) whose Close
  // Session is sent but not waited for; 5 exchanges per BMC instead of 7.
  const driver = opts.driver ?? new IpmiDriver({ reuseSessions: false, awaitCloseReply: false, ...opts });
  const limit = Math.max(1, opts.concurrency ?? 512);
  const results = new Array<PowerStatusResult>(targets.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      const target = targets[i];
      try {
        results[i] = { target, state: await driver.powerStatus(target) };
      } catch (e) {
        results[i] = { target, error: toRackhandError(e) };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, targets.length) }, worker));
  } finally {
    if (!opts.driver) await driver.close();
  }
  return results;
}
