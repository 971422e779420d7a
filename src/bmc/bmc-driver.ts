// The one interface every BMC backend implements, by capability, and the list of its operations that middleware
// (scheduling, metrics) wraps generically; drivers are chosen per server by name.

/** Where a BMC is and how to log in. The password is in clear only in memory, never logged. */
export interface BmcTarget {
  host: string;
  port: number; // IPMI: UDP port, 623 by default; Redfish: the HTTPS (or HTTP) port, 443 by default
  username: string;
  password: string;
  cipherSuite: number; // IPMI: 3 (HMAC-SHA1 / AES-128) or 17 (HMAC-SHA256 / AES-128)
  privilege: BmcPrivilege;
  /** Redfish: https (default) or http. */
  scheme?: 'https' | 'http';
  /** Redfish: old firmware; TLS 1.0/1.1 and weak keys accepted for this BMC only. */
  legacyTls?: boolean;
}

/**
 * The BMC itself (host:port), whoever logs in: the unit of "one command at a time" and of what a BMC answers the same
 * for every user (RMCP+ support, its SDR, its user table).
 */
export function bmcAddress(t: Pick<BmcTarget, 'host' | 'port'>): string {
  return `${t.host}:${t.port}`;
}

export type BmcPrivilege = 'callback' | 'user' | 'operator' | 'administrator';

export type PowerState = 'on' | 'off';
/** on/off are hard; soft is an ACPI shutdown request; reset is a warm reset; cycle is off then on. */
export type PowerAction = 'on' | 'off' | 'soft' | 'reset' | 'cycle';

/** 'cdrom' boots the virtual media where the BMC has it; 'http' is UEFI HTTP boot (Redfish UefiHttp; not in IPMI). */
export const BOOT_DEVICES = ['none', 'pxe', 'disk', 'cdrom', 'bios', 'http'] as const;
export type BootDevice = (typeof BOOT_DEVICES)[number];
export const BOOT_MODES = ['uefi', 'legacy', 'auto'] as const;
export type BootMode = (typeof BOOT_MODES)[number];

export interface BootDeviceSetting {
  device: BootDevice;
  mode: BootMode; // 'auto' leaves the BIOS boot type bit clear
  persistent: boolean; // false = next boot only
  /**
   * 'http' only: the URL the firmware loads (Redfish Boot.HttpBootUri) where the BMC takes one; without it (or on a
   * BMC without HttpBootUri) the firmware asks DHCP, which rackhand answers with the boot file's HTTP URL.
   */
  uri?: string;
}

/** The virtual CD of a BMC: whether an image is attached, and which (the URL the BMC fetches it from). */
export interface VirtualMediaStatus {
  inserted: boolean;
  image: string | null;
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

export type EventSeverity = 'ok' | 'warning' | 'critical';

/** One entry of the BMC's event log (IPMI SEL, Redfish LogService). */
export interface BmcEventLogEntry {
  /** The BMC's id of the entry (IPMI: the SEL record id). */
  id: string;
  /** When the BMC logged it (ISO 8601), or null when its clock was not set or the entry carries no time. */
  time: string | null;
  severity: EventSeverity;
  /** One line a person can read: "temperature sensor 1: upper critical going high (asserted)". */
  message: string;
  /** The entry as the BMC sent it (IPMI: the 16 record bytes as hex), for what the message leaves out. */
  raw: string;
}

/** Power drawn by the server as its BMC measures it (IPMI DCMI, Redfish PowerControl). */
export interface BmcPowerReading {
  watts: number;
  /** Statistics over `periodSeconds`; null when the BMC gives none. */
  minimumWatts: number | null;
  maximumWatts: number | null;
  averageWatts: number | null;
  periodSeconds: number | null;
  /** When the BMC took the reading (ISO 8601), or null. */
  time: string | null;
}

/** Passed last to every operation. */
export interface BmcCallOptions {
  /**
   * Aborting it stops the driver working on the call (no more retransmits, the ipmitool child killed) and rejects
   * the call with the signal's reason. The scheduler aborts on its timeout; a cancelled task's signal arrives here.
   */
  signal?: AbortSignal;
}

/**
 * A BMC backend. Every method either resolves or rejects with a RackhandError whose code is one of
 * BMC_UNREACHABLE, BMC_AUTH_FAILED, BMC_TIMEOUT, BMC_BUSY, BMC_UNSUPPORTED, BMC_ERROR (INVALID_INPUT, NOT_FOUND and
 * CONFLICT for bad arguments), or with its signal's reason once aborted. The account rackhand logs in with
 * (`target.username`) is never removed, disabled or given a new password through removeUser, setUserEnabled or
 * setUserPassword: those refuse with INVALID_INPUT.
 */
export interface BmcDriver {
  readonly name: string;
  powerStatus(t: BmcTarget, o?: BmcCallOptions): Promise<PowerState>;
  power(t: BmcTarget, action: PowerAction, o?: BmcCallOptions): Promise<void>;
  getBootDevice(t: BmcTarget, o?: BmcCallOptions): Promise<BootDeviceSetting>;
  setBootDevice(t: BmcTarget, setting: BootDeviceSetting, o?: BmcCallOptions): Promise<void>;
  sensors(t: BmcTarget, o?: BmcCallOptions): Promise<SensorReading[]>;
  listUsers(t: BmcTarget, o?: BmcCallOptions): Promise<BmcUser[]>;
  addUser(t: BmcTarget, user: NewBmcUser, o?: BmcCallOptions): Promise<{ id: number }>;
  setUserPassword(t: BmcTarget, name: string, password: string, o?: BmcCallOptions): Promise<void>;
  setUserEnabled(t: BmcTarget, name: string, enabled: boolean, o?: BmcCallOptions): Promise<void>;
  removeUser(t: BmcTarget, name: string, o?: BmcCallOptions): Promise<void>;
  resetBmc(t: BmcTarget, kind: 'cold' | 'warm', o?: BmcCallOptions): Promise<void>;
  deviceInfo(t: BmcTarget, o?: BmcCallOptions): Promise<BmcDeviceInfo>;
  /** The event log, oldest first. */
  readEventLog(t: BmcTarget, o?: BmcCallOptions): Promise<BmcEventLogEntry[]>;
  clearEventLog(t: BmcTarget, o?: BmcCallOptions): Promise<void>;
  /** BMC_UNSUPPORTED when the BMC does not measure power. */
  powerReading(t: BmcTarget, o?: BmcCallOptions): Promise<BmcPowerReading>;
  /**
   * Attach the image at `url` (http or https; the BMC fetches it) as the virtual CD: whatever is attached is ejected
   * first and stale state cleared, then the insert is read back. BMC_UNSUPPORTED where the BMC has no virtual media.
   */
  insertMedia(t: BmcTarget, url: string, o?: BmcCallOptions): Promise<void>;
  /** Detach the virtual CD (nothing attached: nothing to do). */
  ejectMedia(t: BmcTarget, o?: BmcCallOptions): Promise<void>;
  mediaStatus(t: BmcTarget, o?: BmcCallOptions): Promise<VirtualMediaStatus>;
  /** Close sessions and sockets. */
  close(): Promise<void>;
}

/** The operations of a driver: everything but its name and close(). */
export type BmcOperation = Exclude<keyof BmcDriver, 'name' | 'close'>;

/** How many arguments an operation takes between the target and its options. */
type ArgsBeforeOptions<F> = F extends (t: BmcTarget, ...rest: infer R) => unknown ? (Required<R> extends [...infer M, BmcCallOptions] ? M['length'] : never) : never;

/**
 * Every operation with the number of arguments between target and options: what generic middleware needs to find
 * the target and the options of any call. The compiler checks each count against the interface above, and a method
 * added there without an entry here does not compile.
 */
export const BMC_OPERATIONS = {
  powerStatus: 0,
  power: 1,
  getBootDevice: 0,
  setBootDevice: 1,
  sensors: 0,
  listUsers: 0,
  addUser: 1,
  setUserPassword: 2,
  setUserEnabled: 2,
  removeUser: 1,
  resetBmc: 1,
  deviceInfo: 0,
  readEventLog: 0,
  clearEventLog: 0,
  powerReading: 0,
  insertMedia: 1,
  ejectMedia: 0,
  mediaStatus: 0,
} as const satisfies { [K in BmcOperation]: ArgsBeforeOptions<BmcDriver[K]> };
