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
  UNAVAILABLE: 503,
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

/**
 * Any thrown value as a RackhandError. HTTP parser errors (bad JSON, bad percent-encoding, too large) get our
 * codes, never the framework's own shape; unknown failures become INTERNAL with their message.
 */
export function toRackhandError(e: unknown): RackhandError {
  if (e instanceof RackhandError) return e;
  if (e instanceof URIError) return new RackhandError('INVALID_INPUT', 'the URL has a bad percent-encoding', { field: 'url' });
  const status = (e as { status?: number } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return new RackhandError('PAYLOAD_TOO_LARGE', 'request body is too large');
    if (status === 415) return new RackhandError('UNSUPPORTED_MEDIA_TYPE', 'send application/json');
    if ((e as { type?: string }).type === 'entity.parse.failed') return new RackhandError('INVALID_INPUT', 'body is not valid JSON', { field: 'body' });
    if (/decode/i.test((e as Error).message)) return new RackhandError('INVALID_INPUT', 'the URL has a bad percent-encoding', { field: 'url' });
    return new RackhandError('INVALID_INPUT', (e as Error).message);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new RackhandError('INTERNAL', message);
}

/** The native error body `{error: {code, message, details?}}`. Internal messages are not echoed to callers. */
export function errorBody(err: RackhandError): { error: { code: string; message: string; details?: Record<string, unknown> } } {
  const message = err.code === 'INTERNAL' ? 'internal error' : err.message;
  return { error: { code: err.code, message, ...(err.details ? { details: err.details } : {}) } };
}
