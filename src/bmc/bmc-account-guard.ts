// The one rule every driver applies before changing a BMC account: never the account rackhand logs in with.
import { RackhandError } from '../errors.js';
import type { BmcTarget } from './bmc-driver.js';

/**
 * Refuses to remove, disable or re-password `name` when it is the target's login: rackhand would lock itself out
 * of the BMC. Compared without case and surrounding spaces, as some BMCs look names up.
 */
export function guardOwnAccount(t: Pick<BmcTarget, 'username'>, name: string, what: string): void {
  if (typeof name !== 'string' || name.trim().toLowerCase() === t.username.trim().toLowerCase()) {
    throw new RackhandError('INVALID_INPUT', `refusing to ${what} ${JSON.stringify(String(name))}: it is the account rackhand logs in with`, { field: 'name' });
  }
}
