// Quirk adapter: firmware that refuses a boot override PATCH carrying more than BootSourceOverrideEnabled and
// BootSourceOverrideTarget (HTTP 400) but takes those two alone; the mode, if any, goes in a PATCH of its own.
import { RackhandError } from '../../../errors.js';
import type { BootPatch } from '../redfish-resources.js';

export const bootMinimalPayload = {
  name: 'boot-minimal-payload',
  /** A 400 answer to a PATCH that carried the mode too. */
  applies(err: unknown, patch: BootPatch): boolean {
    return err instanceof RackhandError && err.details?.status === 400 && patch.BootSourceOverrideMode !== undefined;
  },
  /** The two fields that work, and the mode to try alone afterwards. */
  split(patch: BootPatch): { first: BootPatch; mode?: BootPatch['BootSourceOverrideMode'] } {
    const { BootSourceOverrideMode: mode, ...first } = patch;
    return { first, mode };
  },
};
