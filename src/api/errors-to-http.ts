// Turn anything thrown while serving a request into a RackhandError with a stable code and status.
import { RackhandError, toRackhandError } from '../errors.js';

const FASTIFY_CODES: Record<string, (e: Error) => RackhandError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new RackhandError('PAYLOAD_TOO_LARGE', 'request body is too large'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new RackhandError('UNSUPPORTED_MEDIA_TYPE', 'send application/json or application/x-www-form-urlencoded'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new RackhandError('INVALID_INPUT', 'empty JSON body', { field: 'body' }),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new RackhandError('INVALID_INPUT', 'body is not valid JSON', { field: 'body' }),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new RackhandError('INVALID_INPUT', 'bad content-length', { field: 'body' }),
};

export function httpError(e: unknown): RackhandError {
  if (e instanceof RackhandError) return e;
  const code = (e as { code?: string }).code;
  if (code && FASTIFY_CODES[code]) return FASTIFY_CODES[code](e as Error);
  if (e instanceof SyntaxError) return new RackhandError('INVALID_INPUT', 'body is not valid JSON', { field: 'body' });
  const status = (e as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) return new RackhandError('INVALID_INPUT', (e as Error).message);
  return toRackhandError(e);
}

/** The native error body: `{error: {code, message, details?}}`. Internal messages are not echoed to callers. */
export function errorBody(err: RackhandError): { error: { code: string; message: string; details?: Record<string, unknown> } } {
  const message = err.code === 'INTERNAL' ? 'internal error' : err.message;
  return { error: { code: err.code, message, ...(err.details ? { details: err.details } : {}) } };
}
