// Maps IPMI completion codes and RMCP+ status codes onto rackhand's stable BMC error codes.
import { RackhandError, type ErrorCode } from '../../errors.js';

const COMPLETION_NAMES: Record<number, string> = {
  0xc0: 'node busy',
  0xc1: 'invalid command',
  0xc2: 'command invalid for given LUN',
  0xc3: 'timeout while processing command',
  0xc4: 'out of space',
  0xc5: 'reservation cancelled or invalid',
  0xc6: 'request data truncated',
  0xc7: 'request data length invalid',
  0xc8: 'request data field length limit exceeded',
  0xc9: 'parameter out of range',
  0xca: 'cannot return number of requested data bytes',
  0xcb: 'requested sensor, data, or record not present',
  0xcc: 'invalid data field in request',
  0xcd: 'command illegal for specified sensor or record type',
  0xce: 'command response could not be provided',
  0xcf: 'cannot execute duplicated request',
  0xd0: 'SDR repository in update mode',
  0xd1: 'device in firmware update mode',
  0xd2: 'BMC initialization in progress',
  0xd3: 'destination unavailable',
  0xd4: 'insufficient privilege level',
  0xd5: 'not supported in present state',
  0xd6: 'sub-function disabled or unavailable',
  0xff: 'unspecified error',
};

function completionCodeClass(cc: number): ErrorCode {
  switch (cc) {
    case 0xc0: // node busy
    case 0xd2: // initialization in progress
    case 0xd1: // firmware update mode
    case 0xd0: // SDR update mode
      return 'BMC_BUSY';
    case 0xc1: // invalid command
    case 0xc2: // invalid for LUN
    case 0xd6: // sub-function unavailable
      return 'BMC_UNSUPPORTED';
    case 0xc3:
      return 'BMC_TIMEOUT';
    case 0xd4:
      return 'BMC_AUTH_FAILED';
    default:
      return 'BMC_ERROR';
  }
}

/** The error for a non-zero completion code of `what` (e.g. "Chassis Control"). */
export function completionCodeError(cc: number, what: string): RackhandError {
  const name = COMPLETION_NAMES[cc] ?? 'completion code';
  return new RackhandError(completionCodeClass(cc), `${what}: ${name} (0x${cc.toString(16).padStart(2, '0')})`, {
    completionCode: cc,
  });
}

const RMCP_STATUS_NAMES: Record<number, string> = {
  0x01: 'insufficient resources to create a session',
  0x02: 'invalid session ID',
  0x03: 'invalid payload type',
  0x04: 'invalid authentication algorithm',
  0x05: 'invalid integrity algorithm',
  0x06: 'no matching authentication payload',
  0x07: 'no matching integrity payload',
  0x08: 'inactive session ID',
  0x09: 'invalid role',
  0x0a: 'unauthorized role or privilege level requested',
  0x0b: 'insufficient resources to create a session at the requested role',
  0x0c: 'invalid name length',
  0x0d: 'unauthorized name',
  0x0e: 'unauthorized GUID',
  0x0f: 'invalid integrity check value',
  0x10: 'invalid confidentiality algorithm',
  0x11: 'no cipher suite match with proposed security algorithms',
  0x12: 'illegal or unrecognized parameter',
};

function rmcpStatusClass(status: number): ErrorCode {
  switch (status) {
    case 0x01:
    case 0x0b:
      return 'BMC_BUSY';
    case 0x04:
    case 0x05:
    case 0x06:
    case 0x07:
    case 0x10:
    case 0x11:
      return 'BMC_UNSUPPORTED';
    case 0x09:
    case 0x0a:
    case 0x0c:
    case 0x0d:
    case 0x0e:
    case 0x0f:
      return 'BMC_AUTH_FAILED';
    default:
      return 'BMC_ERROR';
  }
}

/** The error for a non-zero RMCP+ status code in Open Session Response or RAKP 2/4. */
export function rmcpStatusError(status: number, stage: string): RackhandError {
  const name = RMCP_STATUS_NAMES[status] ?? 'RMCP+ status';
  return new RackhandError(rmcpStatusClass(status), `${stage}: ${name} (0x${status.toString(16).padStart(2, '0')})`, {
    rmcpStatus: status,
  });
}
