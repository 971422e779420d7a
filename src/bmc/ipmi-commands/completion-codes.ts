// Maps IPMI completion codes onto rackhand's stable BMC error codes.
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
