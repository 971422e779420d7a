// Stable error codes, their HTTP statuses, and the one error class every part throws.

export const ERROR_STATUS = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_ACTION: 400,
  CONFLICT: 409,
  SERVER_BUSY: 409,
  NO_FREE_SERVER: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_IMPLEMENTED: 501,
  BMC_UNSUPPORTED: 501,
  BMC_UNREACHABLE: 502,
  BMC_AUTH_FAILED: 502,
  BMC_ERROR: 502,
  BMC_BUSY: 503,
  BMC_TIMEOUT: 504,
  BMC_NOT_CONFIGURED: 409,
  TASK_INTERRUPTED: 500,
  TASK_CANCELLED: 409,
  TEMPLATE_ERROR: 500,
  BOOT_ERROR: 500,
  CONSOLE_ERROR: 502,
  SWITCH_ERROR: 502,
  IP_EXHAUSTED: 409,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class RackhandError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable facts (field name, completion code, …); never secrets. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RackhandError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isRackhandError(e: unknown): e is RackhandError {
  return e instanceof RackhandError;
}

/** Any thrown value as a RackhandError; unknown failures become INTERNAL with their message. */
export function toRackhandError(e: unknown): RackhandError {
  if (e instanceof RackhandError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new RackhandError('INTERNAL', message);
}
