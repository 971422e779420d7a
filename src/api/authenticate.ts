// Find the caller's token wherever a face's clients put it, and resolve it to a Principal.
import type { Request } from 'express';
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import type { TokensRepo } from '../store/repos/tokens-repo.js';

/**
 * Every token the request presents, in order of trust: a Bearer header; DCImanager's ses6 session cookie, then its
 * x-xsrf-token header; the eq `token` parameter (body, then query). The first one that is valid wins, so a stale
 * header beside a valid cookie does not lock a caller out.
 */
export function presentedTokens(req: Request): string[] {
  const out: string[] = [];
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) out.push(auth.slice(7).trim());
  const ses6 = cookie(req.headers.cookie, 'ses6');
  if (ses6) out.push(ses6);
  const xsrf = req.headers['x-xsrf-token'];
  if (typeof xsrf === 'string' && xsrf) out.push(xsrf);
  const body = (req as { parsedBody?: { value: unknown } }).parsedBody?.value as Record<string, unknown> | undefined;
  if (body && typeof body === 'object' && typeof body.token === 'string') out.push(body.token);
  const query = req.query as Record<string, unknown> | undefined;
  if (query && typeof query.token === 'string') out.push(query.token);
  return out.filter((t) => t.length > 0 && t.length <= 512);
}

export function authenticate(req: Request, tokens: Pick<TokensRepo, 'authenticate'>): Principal {
  const presented = presentedTokens(req);
  if (presented.length === 0) {
    throw new RackhandError('UNAUTHORIZED', 'a token is required (Authorization: Bearer, the ses6 cookie, or the token parameter)');
  }
  for (const t of presented) {
    const p = tokens.authenticate(t);
    if (p) return p;
  }
  throw new RackhandError('UNAUTHORIZED', 'the token is unknown or revoked; ask an admin for a new one (rackhand token create)');
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
