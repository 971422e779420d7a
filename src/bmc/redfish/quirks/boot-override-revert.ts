// Quirk adapter: firmware that answers 200 to a (one-time UEFI PXE) boot override and then silently drops it. The
// override is read back and written again until it holds; a one-time override is also remembered and re-asserted
// right before the power-on or reset that depends on it, if it has reverted by then.
import type { BootPatch } from '../redfish-resources.js';

export interface PendingOverride {
  patch: BootPatch;
  at: number;
}

export const bootOverrideRevert = {
  name: 'boot-override-revert',
  /** Writes of one override before giving up (the first one included). */
  attempts: 3,
  /** A one-time override older than this is not re-asserted (someone else may have booted the host since). */
  ttlMs: 15 * 60_000,
  /** The override to re-assert before a power-on or reset, if one is pending and young enough. */
  pending(p: PendingOverride | undefined, now: number): BootPatch | undefined {
    return p && p.patch.BootSourceOverrideEnabled === 'Once' && now - p.at < this.ttlMs ? p.patch : undefined;
  },
};
