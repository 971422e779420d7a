// Request bodies as central control sends them: JSON, or a form — with or without a Content-Type, since the
// seeds' curl lines send JSON text as a form — and PHP-style form arrays (params[0][name]=…).
import type { Request } from 'express';
import qs from 'qs';
import { RackhandError } from '../errors.js';

const FORM_LIMITS = { depth: 5, arrayLimit: 256, parameterLimit: 2000, allowDots: false };

/** Read and parse the body once (cached on the request); an empty body is undefined. */
export async function readBody(req: Request, limit: number): Promise<unknown> {
  const cached = (req as { parsedBody?: { value: unknown } }).parsedBody;
  if (cached) return cached.value;
  const raw = await readRaw(req, limit);
  const value = parseBody(raw, req.headers['content-type']);
  (req as { parsedBody?: { value: unknown } }).parsedBody = { value };
  return value;
}

export function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (raw.length === 0) return undefined;
  const text = raw.toString('utf8');
  if (type === 'application/json' || type.endsWith('+json')) return parseJson(text);
  if (type === '' || type === 'application/x-www-form-urlencoded' || type === 'text/plain') {
    // curl -d '{"a":1}' sends JSON labelled as a form: a body that starts like JSON is JSON.
    if (/^\s*[[{]/.test(text)) return parseJson(text);
    return qs.parse(text, FORM_LIMITS);
  }
  throw new RackhandError('UNSUPPORTED_MEDIA_TYPE', `send application/json or application/x-www-form-urlencoded, not ${type}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RackhandError('INVALID_INPUT', 'body is not valid JSON', { field: 'body' });
  }
}

function readRaw(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new RackhandError('PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new RackhandError('PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
