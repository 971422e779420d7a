// Parsers for what the ipmitool binary prints: raw response bytes, and failure text → error codes.

import { RackhandError, type ErrorCode } from '../../errors.js';

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
