// Test harness: what an emulated Redfish BMC drives — the machine behind it — and an in-memory one for BMC farms.

/** Redfish BootSourceOverrideTarget values the emulator accepts. */
export const BOOT_TARGETS = ['None', 'Pxe', 'Hdd', 'Cd', 'UsbCd', 'UefiHttp', 'BiosSetup'] as const;
export type BootTarget = (typeof BOOT_TARGETS)[number];
export type BootMode = 'UEFI' | 'Legacy';

/** What to boot: a target ('None' = the machine's own boot order; 'Cd' = the virtual CD) in a firmware mode. */
export interface BootChoice {
  target: BootTarget;
  mode: BootMode;
}

export interface BootRecord extends BootChoice {
  at: number; // Date.now() when the machine started this boot
  how: 'power-on' | 'reset';
}

export interface EmulatedMachine {
  /** The firmware mode the machine has before anyone sets one. */
  readonly nativeMode: BootMode;
  /** 'On' while it runs (a VM: while its qemu is alive, so a guest that powers itself off reads Off). */
  powerState(): 'On' | 'Off';
  /** Start booting `now`; resets the guest does on its own later boot `after`. */
  powerOn(now: BootChoice, after: BootChoice): Promise<void>;
  /** Pull the plug. */
  forceOff(): Promise<void>;
  /** ACPI power button: the guest decides whether to turn off. */
  gracefulShutdown(): Promise<void>;
  /** Warm reset of a running machine into `now`. */
  reset(now: BootChoice, after: BootChoice): Promise<void>;
  nmi(): Promise<void>;
  /** Insert the CD image at `file`, or eject it (undefined). */
  setMedia(file: string | undefined): Promise<void>;
  /** Every boot the machine started, oldest first. */
  readonly boots: BootRecord[];
  close(): Promise<void>;
}

/**
 * A machine that is only state: power, boots and media, for farms of emulated BMCs without VMs. A guest "powers
 * itself off" when a test calls guestPowerOff(); a graceful shutdown turns it off unless ignoreAcpi is set.
 */
export class MemoryMachine implements EmulatedMachine {
  readonly boots: BootRecord[] = [];
  media: string | undefined;
  ignoreAcpi = false;
  private on: boolean;

  constructor(opts: { power?: 'On' | 'Off'; nativeMode?: BootMode } = {}) {
    this.on = (opts.power ?? 'On') === 'On';
    this.nativeMode = opts.nativeMode ?? 'UEFI';
  }

  readonly nativeMode: BootMode;

  powerState(): 'On' | 'Off' {
    return this.on ? 'On' : 'Off';
  }

  async powerOn(now: BootChoice): Promise<void> {
    if (this.on) return;
    this.on = true;
    this.boots.push({ ...now, at: Date.now(), how: 'power-on' });
  }

  async forceOff(): Promise<void> {
    this.on = false;
  }

  async gracefulShutdown(): Promise<void> {
    if (!this.ignoreAcpi) this.on = false;
  }

  async reset(now: BootChoice): Promise<void> {
    if (!this.on) return;
    this.boots.push({ ...now, at: Date.now(), how: 'reset' });
  }

  async nmi(): Promise<void> {}

  async setMedia(file: string | undefined): Promise<void> {
    this.media = file;
  }

  /** The guest shuts itself down (behind the BMC's back). */
  guestPowerOff(): void {
    this.on = false;
  }

  async close(): Promise<void> {}
}
