// The API-token capability (admins only): list, create (the value is shown once), revoke; and the callers' identity.
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { ROLES, type Principal } from '../auth/tokens.js';
import type { TokenInfo, TokensRepo } from '../store/repos/tokens-repo.js';
import type { UsersRepo } from '../store/repos/users-repo.js';
import { can, requireAllowed } from './access.js';

export const newTokenSchema = z
  .object({ name: z.string().min(1).max(64), role: z.enum(ROLES), owner_id: z.number().int().positive().optional() })
  .strict()
  .refine((b) => b.role !== 'client' || b.owner_id !== undefined, { message: 'a client token needs owner_id', path: ['owner_id'] });
export type NewToken = z.infer<typeof newTokenSchema>;

export class Tokens {
  constructor(
    private readonly tokens: TokensRepo,
    private readonly users: UsersRepo,
  ) {}

  /** The caller itself: any token may ask. */
  whoami(p: Principal) {
    return { name: p.name, role: p.role, owner_id: p.ownerId };
  }

  list(p: Principal): TokenInfo[] {
    requireAllowed(can.manageTokens(p), 'manage tokens');
    return this.tokens.list();
  }

  create(p: Principal, t: NewToken): { token: string } & TokenInfo {
    requireAllowed(can.manageTokens(p), 'manage tokens');
    if (t.owner_id !== undefined && !this.users.get(t.owner_id)) throw new RackhandError('NOT_FOUND', `user ${t.owner_id} not found`, { field: 'owner_id' });
    const r = this.tokens.create({ name: t.name, role: t.role, ownerId: t.owner_id });
    return { token: r.token, ...r.info };
  }

  revoke(p: Principal, id: number): void {
    requireAllowed(can.manageTokens(p), 'manage tokens');
    if (!this.tokens.revoke(id)) throw new RackhandError('NOT_FOUND', `token ${id} not found or already revoked`, { id });
  }
}
