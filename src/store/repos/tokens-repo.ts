// The tokens table: create (hash stored), look up by presented token, list, revoke.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';
import { generateToken, hashToken, type Principal, type Role } from '../../auth/tokens.js';

export interface TokenInfo {
  id: number;
  name: string;
  role: Role;
  ownerId: number | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

interface TokenRow {
  id: number;
  name: string;
  role: Role;
  owner_id: number | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export class TokensRepo {
  private lastTouched = new Map<number, number>();

  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  /** Returns the clear token once; only its hash is stored. */
  create(opts: { name: string; role: Role; ownerId?: number | null }): { token: string; info: TokenInfo } {
    const token = generateToken();
    const r = this.sql('INSERT INTO tokens (name, role, owner_id, hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(opts.name, opts.role, opts.ownerId ?? null, hashToken(token), nowIso());
    return { token, info: this.get(Number(r.lastInsertRowid))! };
  }

  authenticate(token: string): Principal | undefined {
    const row = this.sql('SELECT id, name, role, owner_id FROM tokens WHERE hash = ? AND revoked_at IS NULL')
      .get(hashToken(token)) as Pick<TokenRow, 'id' | 'name' | 'role' | 'owner_id'> | undefined;
    if (!row) return undefined;
    // last_used_at is informative: write it at most once a minute per token, not on every request.
    const now = Date.now();
    if ((this.lastTouched.get(row.id) ?? 0) < now - 60_000) {
      this.lastTouched.set(row.id, now);
      this.sql('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(nowIso(), row.id);
    }
    return { tokenId: row.id, name: row.name, role: row.role, ownerId: row.owner_id };
  }

  get(id: number): TokenInfo | undefined {
    const r = this.sql('SELECT * FROM tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return r ? toInfo(r) : undefined;
  }

  list(): TokenInfo[] {
    return (this.sql('SELECT * FROM tokens ORDER BY id').all() as TokenRow[]).map(toInfo);
  }

  revoke(id: number): boolean {
    return this.sql('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(nowIso(), id).changes > 0;
  }
}

function toInfo(r: TokenRow): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    ownerId: r.owner_id,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}
