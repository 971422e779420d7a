// Maps RMCP+ status codes (Open Session Response, RAKP 2 and 4) onto rackhand's stable BMC error codes.
import { RackhandError, type ErrorCode } from '../../errors.js';

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
