// Quirk adapter: boards whose Boot has no BootSourceOverrideMode and refuse a PATCH that names it: leave the mode out.
import type { Json } from '../redfish-json.js';
import type { BootPatch } from '../redfish-resources.js';

export const bootModeAbsent = {
  name: 'boot-mode-absent',
  /** The system's Boot object does not carry the mode at all. */
  applies(boot: Json): boolean {
    return !('BootSourceOverrideMode' in boot);
  },
  adapt(patch: BootPatch): BootPatch {
    const { BootSourceOverrideMode: _mode, ...rest } = patch;
    return rest;
  },
};
