// Find the caller's token wherever a facade's clients put it, and resolve it to a Principal.
import type { FastifyRequest } from 'fastify';
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import type { TokensRepo } from '../store/repos/tokens-repo.js';

/** Bearer header, DCImanager's ses6 cookie or x-xsrf-token header, or the eq `token` parameter. */
export function presentedToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const xsrf = req.headers['x-xsrf-token'];
  if (typeof xsrf === 'string' && xsrf) return xsrf;
  const ses6 = cookie(req.headers.cookie, 'ses6');
  if (ses6) return ses6;
  const body = req.body as Record<string, unknown> | undefined;
  if (body && typeof body === 'object' && typeof body.token === 'string') return body.token;
  const query = req.query as Record<string, unknown> | undefined;
  if (query && typeof query.token === 'string') return query.token;
  return undefined;
}

export function authenticate(req: FastifyRequest, tokens: TokensRepo): Principal {
  const token = presentedToken(req);
  if (!token) throw new RackhandError('UNAUTHORIZED', 'a token is required (Authorization: Bearer, ses6 cookie, or token parameter)');
  const p = tokens.authenticate(token);
  if (!p) throw new RackhandError('UNAUTHORIZED', 'the token is unknown or revoked');
  return p;
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
