// Parsers for what the ipmitool binary prints: raw response bytes, the `sensor` table, and failure text → error codes.

import { RackhandError, type ErrorCode } from '../../errors.js';
import type { SensorReading, SensorStatus, SensorThresholds } from '../bmc-driver.js';

/** All hex byte tokens of `ipmitool raw` output (one or more lines of " xx xx"), ignoring anything else. */
export function parseRawBytes(stdout: string): number[] {
  const out: number[] = [];
  for (const line of stdout.split('\n')) {
    if (!/^\s*([0-9a-fA-F]{2}(\s+|$))+$/.test(line)) continue;
    for (const tok of line.trim().split(/\s+/)) out.push(parseInt(tok, 16));
  }
  return out;
}

/**
 * Where an ipmitool run failed. `phase` says whether a session existed: no answer before one means the BMC
 * is unreachable; no answer after one means the command timed out.
 */
export interface IpmitoolFailure {
  code: ErrorCode;
  message: string;
  completionCode?: number;
}

const COMPLETION_CODE = /rsp=0x([0-9a-fA-F]{1,2})\)/;

/** Turns ipmitool's error text into a stable code. Never puts whole output in the message: only the matched line. */
export function classifyFailure(text: string): IpmitoolFailure {
  const line = (re: RegExp): string | undefined => text.split('\n').find((l) => re.test(l))?.trim().slice(0, 200);

  const busy = line(/insufficient resources for session|node busy|too many (open )?sessions/i);
  if (busy) return { code: 'BMC_BUSY', message: busy };

  const cipher = line(/invalid (authentication|integrity|confidentiality) algorithm|no matching cipher suite|unsupported cipher suite/i);
  if (cipher) return { code: 'BMC_UNSUPPORTED', message: cipher };

  const auth = line(
    /RAKP \d HMAC is invalid|unauthorized name|invalid (user ?name|password)|RAKP \d message indicates an error|requested maximum privilege level|privilege level cannot be obtained|Set Session Privilege Level to \S+ failed|authentication (type|failed)|ICV is invalid/i,
  );
  if (auth) return { code: 'BMC_AUTH_FAILED', message: auth };

  const cc = COMPLETION_CODE.exec(text);
  if (cc) {
    const completionCode = parseInt(cc[1]!, 16);
    const message = line(COMPLETION_CODE) ?? `completion code 0x${cc[1]}`;
    if (completionCode === 0xc1) return { code: 'BMC_UNSUPPORTED', message, completionCode };
    if (completionCode === 0xc0) return { code: 'BMC_BUSY', message, completionCode };
    return { code: 'BMC_ERROR', message, completionCode };
  }

  // Nothing came back before a session existed: host down, port closed or BMC hung.
  const noAnswer = line(
    /Get Auth Capabilities error|Error issuing Get Channel Authentication Capabilities|no response from RAKP|Error: Unable to establish (IPMI v2 \/ RMCP\+|LAN) session|Connection refused|Address lookup for .* failed|Unable to resolve/i,
  );
  if (noAnswer) return { code: 'BMC_UNREACHABLE', message: noAnswer };

  // A session existed but the command got no reply.
  const noReply = line(/Unable to send RAW command|No response|timeout/i);
  if (noReply) return { code: 'BMC_TIMEOUT', message: noReply };

  // Only a line that reads like an error: output lines of hex data (which may be request bytes) never qualify.
  return { code: 'BMC_ERROR', message: line(/error|fail|unable|invalid|denied|not /i) ?? 'ipmitool failed' };
}

export function failureToError(f: IpmitoolFailure, extra: Record<string, unknown> = {}): RackhandError {
  const details: Record<string, unknown> = { ...extra };
  if (f.completionCode !== undefined) details.completionCode = f.completionCode;
  return new RackhandError(f.code, f.message, details);
}

const THRESHOLD_COLUMNS: (keyof SensorThresholds)[] = [
  'lowerNonRecoverable',
  'lowerCritical',
  'lowerNonCritical',
  'upperNonCritical',
  'upperCritical',
  'upperNonRecoverable',
];

function sensorType(unit: string): string {
  const u = unit.toLowerCase();
  if (u === 'discrete') return 'discrete';
  if (u.startsWith('degrees')) return 'temperature';
  if (u === 'rpm') return 'fan';
  if (u.startsWith('volt')) return 'voltage';
  if (u.startsWith('amp')) return 'current';
  if (u.startsWith('watt')) return 'power';
  if (u === 'percent' || u === '%') return 'percent';
  return 'other';
}

function sensorStatus(s: string): SensorStatus {
  switch (s.toLowerCase()) {
    case 'ok':
      return 'ok';
    case 'nc':
      return 'warning';
    case 'cr':
    case 'nr':
      return 'critical';
    default:
      return 'unavailable';
  }
}

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!/^-?\d+(\.\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses `ipmitool sensor` output: "name | value | unit | status | lnr | lcr | lnc | unc | ucr | unr" per line.
 * Lines that do not have that shape are skipped, never fatal.
 */
export function parseSensorTable(stdout: string): SensorReading[] {
  const out: SensorReading[] = [];
  for (const raw of stdout.split('\n')) {
    const cols = raw.split('|').map((c) => c.trim());
    if (cols.length < 4) continue;
    const [name, value, unit, status] = cols as [string, string, string, string];
    if (name === '') continue;
    const type = sensorType(unit);
    const discrete = type === 'discrete';
    const thresholds: SensorThresholds = {};
    if (!discrete) {
      THRESHOLD_COLUMNS.forEach((k, i) => {
        const v = num(cols[4 + i]);
        if (v !== undefined) thresholds[k] = v;
      });
    }
    const reading = discrete ? undefined : num(value);
    let st: SensorStatus;
    if (discrete) st = /^0x[0-9a-f]+$/i.test(value) ? 'ok' : 'unavailable';
    else st = reading === undefined ? 'unavailable' : sensorStatus(status);
    out.push({
      name,
      type,
      value: reading ?? null,
      unit: discrete ? '' : unit,
      status: st,
      thresholds,
    });
  }
  return out;
}
