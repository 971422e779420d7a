// Pure translations between Redfish resources and rackhand's BMC shapes: power state, boot override, sensors (Thermal,
// Power and the Sensors collection), power reading, accounts, log entries, firmware inventory.
import { RackhandError } from '../../errors.js';
import type {
  BmcEventLogEntry, BmcPowerReading, BmcPrivilege, BmcUser, BootDevice, BootDeviceSetting, BootMode, EventSeverity, PowerAction, PowerState,
  SensorReading, SensorStatus, SensorThresholds,
} from '../bmc-driver.js';
import { numberOf, objectOf, shownValues, stringOf, type Json } from './redfish-json.js';

// ---------------------------------------------------------------------- power

/** PowerState → on/off; a system still switching reads as the state it is leaving, so confirmation waits for it. */
export function powerStateOf(system: Json): PowerState {
  switch (system.PowerState) {
    case 'On':
    case 'PoweringOff':
      return 'on';
    case 'Off':
    case 'PoweringOn':
      return 'off';
    default:
      throw new RackhandError('BMC_ERROR', `the system reports no usable PowerState (${JSON.stringify(system.PowerState ?? null)})`);
  }
}

/** ResetType values the system accepts: the action's AllowableValues, or undefined when it does not say. */
export function allowedResetTypes(action: Json, actionInfo?: Json): string[] | undefined {
  const direct = action['ResetType@Redfish.AllowableValues'];
  if (Array.isArray(direct)) return direct.filter((v): v is string => typeof v === 'string');
  const params = Array.isArray(actionInfo?.Parameters) ? (actionInfo!.Parameters as unknown[]) : [];
  const p = params.map(objectOf).find((x) => x.Name === 'ResetType');
  return Array.isArray(p?.AllowableValues) ? (p!.AllowableValues as unknown[]).filter((v): v is string => typeof v === 'string') : undefined;
}

/** Redfish ResetTypes that carry out a power action, best first; PowerCycle falls back to off + on (two steps). */
const RESET_CHOICES: Record<PowerAction, string[][]> = {
  on: [['On'], ['ForceOn'], ['PushPowerButton']],
  off: [['ForceOff']],
  soft: [['GracefulShutdown'], ['PushPowerButton']],
  reset: [['ForceRestart'], ['PowerCycle'], ['GracefulRestart']],
  cycle: [['PowerCycle'], ['ForceOff', 'On']],
};

/** The ResetType steps for an action, given what the system allows (all allowed when it does not say). */
export function resetStepsFor(action: PowerAction, allowed: string[] | undefined): string[] {
  for (const steps of RESET_CHOICES[action]) if (!allowed || steps.every((s) => allowed.includes(s))) return steps;
  throw new RackhandError('BMC_UNSUPPORTED', `the BMC offers no reset type for power ${action} (it allows ${shownValues(allowed)})`, { action });
}

// ---------------------------------------------------------------------- boot override

/** rackhand boot devices as Redfish BootSourceOverrideTarget; 'http' is UEFI HTTP boot. */
const TARGET_FOR: Record<BootDevice, string> = { none: 'None', pxe: 'Pxe', disk: 'Hdd', cdrom: 'Cd', bios: 'BiosSetup', http: 'UefiHttp' };
const DEVICE_FOR: Record<string, BootDevice> = {
  None: 'none', Pxe: 'pxe', Hdd: 'disk', Cd: 'cdrom', UsbCd: 'cdrom', BiosSetup: 'bios', UefiHttp: 'http',
  Usb: 'disk', SDCard: 'disk', RemoteDrive: 'disk', UefiTarget: 'disk',
};

export function bootTargetFor(device: BootDevice): string {
  return TARGET_FOR[device];
}

/** The override fields as a PATCH body's Boot object carries them. */
export interface BootPatch {
  BootSourceOverrideEnabled: 'Disabled' | 'Once' | 'Continuous';
  BootSourceOverrideTarget?: string;
  BootSourceOverrideMode?: 'UEFI' | 'Legacy';
  /** UEFI HTTP boot: what the firmware loads (Redfish 2019.1+); absent, the firmware asks DHCP. */
  HttpBootUri?: string;
}

export function bootPatchFor(s: BootDeviceSetting): BootPatch {
  if (s.device === 'none') return { BootSourceOverrideEnabled: 'Disabled' };
  return {
    BootSourceOverrideEnabled: s.persistent ? 'Continuous' : 'Once',
    BootSourceOverrideTarget: TARGET_FOR[s.device],
    ...(s.mode === 'auto' ? {} : { BootSourceOverrideMode: s.mode === 'uefi' ? 'UEFI' : 'Legacy' }),
    ...(s.device === 'http' && s.uri ? { HttpBootUri: s.uri } : {}),
  };
}

/** Does the system's Boot read back what was written (the fields the write carried)? */
export function bootMatches(want: BootPatch, boot: Json): boolean {
  if (boot.BootSourceOverrideEnabled !== want.BootSourceOverrideEnabled) return false;
  if (want.BootSourceOverrideEnabled === 'Disabled') return true;
  if (want.BootSourceOverrideTarget !== undefined && boot.BootSourceOverrideTarget !== want.BootSourceOverrideTarget) return false;
  if (want.HttpBootUri !== undefined && boot.HttpBootUri !== want.HttpBootUri) return false;
  return want.BootSourceOverrideMode === undefined || boot.BootSourceOverrideMode === want.BootSourceOverrideMode;
}

export function bootSettingOf(boot: Json): BootDeviceSetting {
  const enabled = boot.BootSourceOverrideEnabled;
  const target = stringOf(boot.BootSourceOverrideTarget) ?? 'None';
  const mode: BootMode = boot.BootSourceOverrideMode === 'UEFI' ? 'uefi' : boot.BootSourceOverrideMode === 'Legacy' ? 'legacy' : 'auto';
  if (enabled !== 'Once' && enabled !== 'Continuous') return { device: 'none', mode, persistent: false };
  const device = DEVICE_FOR[target] ?? 'none';
  const uri = device === 'http' ? stringOf(boot.HttpBootUri) : undefined;
  return { device, mode, persistent: enabled === 'Continuous', ...(uri ? { uri } : {}) };
}

// ---------------------------------------------------------------------- sensors and power

function statusOf(status: unknown, value: number | null): SensorStatus {
  const s = objectOf(status);
  if (s.State === 'Absent' || s.State === 'Disabled' || s.State === 'UnavailableOffline' || value === null) return 'unavailable';
  if (s.Health === 'Critical') return 'critical';
  if (s.Health === 'Warning') return 'warning';
  return 'ok';
}

function legacyThresholds(x: Json): SensorThresholds {
  return clean({
    lowerNonRecoverable: numberOf(x.LowerThresholdFatal),
    lowerCritical: numberOf(x.LowerThresholdCritical),
    lowerNonCritical: numberOf(x.LowerThresholdNonCritical),
    upperNonCritical: numberOf(x.UpperThresholdNonCritical),
    upperCritical: numberOf(x.UpperThresholdCritical),
    upperNonRecoverable: numberOf(x.UpperThresholdFatal),
  });
}

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function array(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(objectOf) : [];
}

/** Thermal (temperatures, fans) and Power (voltages, supplies, consumption) as readings. */
export function sensorsFromThermalPower(thermal: Json | undefined, power: Json | undefined): SensorReading[] {
  const out: SensorReading[] = [];
  for (const t of array(thermal?.Temperatures)) {
    const value = numberOf(t.ReadingCelsius) ?? null;
    out.push({ name: stringOf(t.Name) ?? 'Temperature', type: 'temperature', value, unit: 'degrees C', status: statusOf(t.Status, value), thresholds: legacyThresholds(t) });
  }
  for (const f of array(thermal?.Fans)) {
    const value = numberOf(f.Reading) ?? numberOf(f.ReadingRPM) ?? null;
    out.push({ name: stringOf(f.Name) ?? stringOf(f.FanName) ?? 'Fan', type: 'fan', value, unit: f.ReadingUnits === 'Percent' ? 'percent' : 'RPM', status: statusOf(f.Status, value), thresholds: legacyThresholds(f) });
  }
  for (const v of array(power?.Voltages)) {
    const value = numberOf(v.ReadingVolts) ?? null;
    out.push({ name: stringOf(v.Name) ?? 'Voltage', type: 'voltage', value, unit: 'Volts', status: statusOf(v.Status, value), thresholds: legacyThresholds(v) });
  }
  for (const c of array(power?.PowerControl)) {
    const value = numberOf(c.PowerConsumedWatts) ?? null;
    out.push({ name: stringOf(c.Name) ?? 'Power', type: 'power', value, unit: 'Watts', status: statusOf(c.Status, value), thresholds: {} });
  }
  for (const p of array(power?.PowerSupplies)) {
    const present = objectOf(p.Status).State !== 'Absent';
    out.push({ name: stringOf(p.Name) ?? 'Power Supply', type: 'discrete', value: null, unit: '', status: present ? statusOf(p.Status, 0) : 'unavailable', thresholds: {} });
  }
  return out;
}

const READING_TYPES: Record<string, { type: string; unit: string }> = {
  Temperature: { type: 'temperature', unit: 'degrees C' },
  Rotational: { type: 'fan', unit: 'RPM' },
  Voltage: { type: 'voltage', unit: 'Volts' },
  Current: { type: 'current', unit: 'Amps' },
  Power: { type: 'power', unit: 'Watts' },
  Humidity: { type: 'humidity', unit: 'percent' },
  Frequency: { type: 'frequency', unit: 'Hz' },
};

/** One member of a chassis's Sensors collection. */
export function sensorFromResource(s: Json): SensorReading {
  const kind = READING_TYPES[stringOf(s.ReadingType) ?? ''];
  const value = numberOf(s.Reading) ?? null;
  const th = objectOf(s.Thresholds);
  const at = (k: string) => numberOf(objectOf(th[k]).Reading);
  const unit = kind?.type === 'fan' && s.ReadingUnits === '%' ? 'percent' : (kind?.unit ?? stringOf(s.ReadingUnits) ?? '');
  return {
    name: stringOf(s.Name) ?? stringOf(s.Id) ?? 'Sensor',
    type: kind?.type ?? (stringOf(s.ReadingType)?.toLowerCase() || 'discrete'),
    value,
    unit,
    status: statusOf(s.Status, value),
    thresholds: clean({
      lowerNonRecoverable: at('LowerFatal'),
      lowerCritical: at('LowerCritical'),
      lowerNonCritical: at('LowerCaution'),
      upperNonCritical: at('UpperCaution'),
      upperCritical: at('UpperCritical'),
      upperNonRecoverable: at('UpperFatal'),
    }),
  };
}

/** PowerControl[0] of a Power resource (the whole system's consumption), if it reports one. */
export function powerReadingFromPower(power: Json): BmcPowerReading | undefined {
  const c = array(power.PowerControl).find((x) => numberOf(x.PowerConsumedWatts) !== undefined);
  if (!c) return undefined;
  const m = objectOf(c.PowerMetrics);
  const interval = numberOf(m.IntervalInMin);
  return {
    watts: numberOf(c.PowerConsumedWatts)!,
    minimumWatts: numberOf(m.MinConsumedWatts) ?? null,
    maximumWatts: numberOf(m.MaxConsumedWatts) ?? null,
    averageWatts: numberOf(m.AverageConsumedWatts) ?? null,
    periodSeconds: interval === undefined ? null : interval * 60,
    time: null,
  };
}

// ---------------------------------------------------------------------- accounts

const ROLE_FOR: Record<BmcPrivilege, string> = { administrator: 'Administrator', operator: 'Operator', user: 'ReadOnly', callback: 'ReadOnly' };

export function roleFor(p: BmcPrivilege): string {
  return ROLE_FOR[p];
}

function privilegeOf(roleId: unknown): BmcUser['privilege'] {
  switch (roleId) {
    case 'Administrator':
      return 'administrator';
    case 'Operator':
      return 'operator';
    case 'ReadOnly':
    case 'ReadOnlyUser':
      return 'user';
    default:
      return 'no-access';
  }
}

/** An account as a BMC user; an empty slot (no UserName) is no user. `index` numbers non-numeric Ids. */
export function userOf(account: Json, index: number): BmcUser | undefined {
  const name = stringOf(account.UserName);
  if (!name) return undefined;
  return { id: accountNumberOf(account.Id) ?? index + 1, name, enabled: account.Enabled !== false, privilege: privilegeOf(account.RoleId) };
}

/**
 * An account Id that is a whole number ("3", or 3 from BMCs that send numbers); anything else is no number.
 * Only strings and numbers are converted: Number() of an arbitrary value can throw (an object without a prototype).
 */
function accountNumberOf(v: unknown): number | undefined {
  const digits = typeof v === 'number' ? String(v) : stringOf(v);
  return digits !== undefined && /^\d+$/.test(digits) ? Number(digits) : undefined;
}

// ---------------------------------------------------------------------- logs and inventory

/** A LogEntry as the contract's entry; `raw` is the entry as the BMC sent it (JSON), MessageId and OEM fields included. */
export function logEntryOf(e: Json, index: number): BmcEventLogEntry {
  const severity: EventSeverity = e.Severity === 'Critical' ? 'critical' : e.Severity === 'Warning' ? 'warning' : 'ok';
  const extra = [stringOf(e.SensorType), stringOf(e.EntryCode)].filter(Boolean).join(', ');
  const message = `${(stringOf(e.Message) ?? stringOf(e.MessageId) ?? '').slice(0, 1000)}${extra ? ` (${extra})` : ''}`;
  return { id: stringOf(e.Id) ?? String(index + 1), time: stringOf(e.Created) ?? null, severity, message, raw: JSON.stringify(e).slice(0, 4000) };
}

export interface FirmwareItem {
  id: string;
  name: string;
  version: string;
  updateable?: boolean;
}

export function firmwareItemOf(s: Json): FirmwareItem | undefined {
  const version = stringOf(s.Version);
  if (!version) return undefined;
  return clean({ id: stringOf(s.Id) ?? '', name: stringOf(s.Name) ?? stringOf(s.Id) ?? '', version, updateable: typeof s.Updateable === 'boolean' ? s.Updateable : undefined });
}
