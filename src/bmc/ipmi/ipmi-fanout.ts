// Power status of many BMCs at once from one event loop (the sync loop and bench/ipmi-fanout use it).
import { RackhandError, toRackhandError } from '../../errors.js';
import type { BmcPrivilege, BmcTarget, PowerState } from '../bmc-driver.js';
import { IpmiDecodeError } from './ipmi-codec.js';
import { ipmiOperations } from '../ipmi-commands/ipmi-operations.js';
import { PRIVILEGE_LEVEL } from '../ipmi-commands/user-commands.js';
import { IpmiDriver, sessionRunner, type IpmiDriverOptions } from './ipmi-driver.js';
import { IpmiSession, type IpmiSessionOptions } from './ipmi-session.js';
import { UdpTransport } from './ipmi-transport.js';

export type PowerStatusResult =
  | { target: BmcTarget; state: PowerState; error?: undefined }
  | { target: BmcTarget; state?: undefined; error: RackhandError };

export interface PowerStatusManyOptions extends IpmiDriverOptions {
  /** Use this driver (and keep its sessions); otherwise every BMC gets a one-shot session. */
  driver?: IpmiDriver;
  /** At most this many BMCs in flight; default 512. */
  concurrency?: number;
}

/**
 * One-shot power read: a session at User privilege (Get Chassis Status needs no more, so no Set Session
 * Privilege Level), one request, and a Close Session that is sent but not waited for. Six datagrams out, five
 * answers waited for, against nine and seven for a session at the target's privilege with an awaited close.
 */
async function oneShotPowerStatus(t: BmcTarget, opts: IpmiSessionOptions): Promise<PowerState> {
  const s = new IpmiSession(t, opts);
  const privilege: BmcPrivilege = PRIVILEGE_LEVEL[t.privilege] < PRIVILEGE_LEVEL.user ? t.privilege : 'user';
  try {
    await s.open({ privilege });
    return await ipmiOperations.powerStatus(sessionRunner(s));
  } catch (e) {
    if (e instanceof IpmiDecodeError) throw new RackhandError('BMC_ERROR', e.message);
    throw e;
  } finally {
    await s.close({ awaitReply: false });
  }
}

/** Results in the order of `targets`; a failing BMC yields its error, never a rejection. */
export async function powerStatusMany(targets: readonly BmcTarget[], opts: PowerStatusManyOptions = {}): Promise<PowerStatusResult[]> {
  const driver = opts.driver;
  const transport = driver || opts.transport ? undefined : new UdpTransport();
  const sessionOpts: IpmiSessionOptions = { timeoutMs: opts.timeoutMs, retries: opts.retries, kg: opts.kg, logger: opts.logger, transport: opts.transport ?? transport };
  const limit = Math.max(1, opts.concurrency ?? 512);
  const results = new Array<PowerStatusResult>(targets.length);
  // One command in flight per BMC even when a target is listed twice: later ones wait for the earlier.
  const last = new Map<string, Promise<unknown>>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      const target = targets[i];
      const key = `${target.host}:${target.port}:${target.username}`;
      const before = last.get(key);
      const read = (): Promise<PowerState> => (driver ? driver.powerStatus(target) : oneShotPowerStatus(target, sessionOpts));
      const p = before ? before.then(read, read) : read();
      last.set(key, p.catch(() => undefined));
      try {
        results[i] = { target, state: await p };
      } catch (e) {
        results[i] = { target, error: toRackhandError(e) };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, targets.length) }, worker));
  } finally {
    await transport?.close();
  }
  return results;
}
