// The one interface every BMC backend implements, by capability; drivers are chosen per server by name.

/** Where a BMC is and how to log in. The password is in clear only in memory, never logged. */
export interface BmcTarget {
  host: string;
  port: number; // UDP port, 623 by default
  username: string;
  password: string;
  cipherSuite: number; // 3 (HMAC-SHA1 / AES-128) or 17 (HMAC-SHA256 / AES-128)
  privilege: BmcPrivilege;
}

export type BmcPrivilege = 'callback' | 'user' | 'operator' | 'administrator';

export type PowerState = 'on' | 'off';
/** on/off are hard; soft is an ACPI shutdown request; reset is a warm reset; cycle is off then on. */
export type PowerAction = 'on' | 'off' | 'soft' | 'reset' | 'cycle';

export type BootDevice = 'none' | 'pxe' | 'disk' | 'cdrom' | 'bios';
export type BootMode = 'uefi' | 'legacy' | 'auto';

export interface BootDeviceSetting {
  device: BootDevice;
  mode: BootMode; // 'auto' leaves the BIOS boot type bit clear
  persistent: boolean; // false = next boot only
}

export type SensorStatus = 'ok' | 'warning' | 'critical' | 'unavailable';

export interface SensorThresholds {
  lowerNonRecoverable?: number;
  lowerCritical?: number;
  lowerNonCritical?: number;
  upperNonCritical?: number;
  upperCritical?: number;
  upperNonRecoverable?: number;
}

export interface SensorReading {
  name: string; // SDR id string, e.g. "CPU1 Temp"
  type: string; // temperature, fan, voltage, current, power, discrete, …
  value: number | null; // converted reading; null when the sensor gives none
  unit: string; // "degrees C", "RPM", "Volts", "" for discrete
  status: SensorStatus;
  thresholds: SensorThresholds;
}

export interface BmcUser {
  id: number; // user slot on the BMC (1 is the anonymous user on most BMCs)
  name: string;
  enabled: boolean;
  privilege: BmcPrivilege | 'no-access';
}

export interface NewBmcUser {
  name: string;
  password: string;
  privilege: BmcPrivilege;
  channel?: number; // LAN channel; driver finds it when absent
}

export interface BmcDeviceInfo {
  deviceId: number;
  firmware: string; // "major.minor"
  ipmiVersion: string; // "2.0"
  manufacturerId: number;
  productId: number;
}

/**
 * A BMC backend. Every method either resolves or rejects with a RackhandError whose code is one of
 * BMC_UNREACHABLE, BMC_AUTH_FAILED, BMC_TIMEOUT, BMC_BUSY, BMC_UNSUPPORTED, BMC_ERROR.
 */
export interface BmcDriver {
  readonly name: string;
  powerStatus(t: BmcTarget): Promise<PowerState>;
  power(t: BmcTarget, action: PowerAction): Promise<void>;
  getBootDevice(t: BmcTarget): Promise<BootDeviceSetting>;
  setBootDevice(t: BmcTarget, setting: BootDeviceSetting): Promise<void>;
  sensors(t: BmcTarget): Promise<SensorReading[]>;
  listUsers(t: BmcTarget): Promise<BmcUser[]>;
  addUser(t: BmcTarget, user: NewBmcUser): Promise<{ id: number }>;
  setUserPassword(t: BmcTarget, name: string, password: string): Promise<void>;
  setUserEnabled(t: BmcTarget, name: string, enabled: boolean): Promise<void>;
  removeUser(t: BmcTarget, name: string): Promise<void>;
  resetBmc(t: BmcTarget, kind: 'cold' | 'warm'): Promise<void>;
  deviceInfo(t: BmcTarget): Promise<BmcDeviceInfo>;
  /** Close sessions and sockets. */
  close(): Promise<void>;
}
