// Quirk adapter: Supermicro X11/X12 boards present virtual media as a USB CD: a one-time Cd override boots the
// board's own CD drive, only UsbCd boots the virtual media (sushy does the same for Ironic).
import { stringOf, type Json } from '../redfish-json.js';

export const virtualCdUsb = {
  name: 'virtual-cd-usb',
  /** A Cd override on a Supermicro system that offers UsbCd. */
  applies(system: Json, boot: Json, target: string | undefined): boolean {
    const allowed = boot['BootSourceOverrideTarget@Redfish.AllowableValues'];
    return target === 'Cd' && /supermicro/i.test(stringOf(system.Manufacturer) ?? '') && Array.isArray(allowed) && allowed.includes('UsbCd');
  },
  target: 'UsbCd',
};
