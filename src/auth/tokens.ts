// API tokens: random, shown once, stored only as a SHA-256 hash; roles decide what a caller may do.
import { createHash, randomBytes } from 'node:crypto';

export const ROLES = ['admin', 'central', 'tech', 'client'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, as every core operation sees it. */
export interface Principal {
  tokenId: number;
  name: string;
  role: Role;
  /** For `client` tokens: the user whose servers it may touch. */
  ownerId: number | null;
}

export const TOKEN_PREFIX = 'rh_';

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * What is stored instead of a random credential (API tokens, install tokens, console keys and tickets): they are
 * 128+ random bits, so a fast hash is enough — nothing to brute-force — and a leaked database yields no live one.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function describePrincipal(p: Principal): string {
  return `${p.role}:${p.name}#${p.tokenId}`;
}
