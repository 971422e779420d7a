// API tokens (auth/tokens.ts, store/repos/tokens-repo.ts, core/tokens.ts): random, shown once, stored as a SHA-256
// hash only, found by the token presented (never by its hash), revoked for good, role and owner carried.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryStore, type MemoryStore } from '../store/memory-store.js';
import { describePrincipal, generateToken, hashToken, TOKEN_PREFIX, type Principal } from '../../src/auth/tokens.js';
import { newTokenSchema, Tokens } from '../../src/core/tokens.js';
import { RackhandError } from '../../src/errors.js';

let store: MemoryStore;
beforeEach(() => {
  store = memoryStore();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('generateToken and hashToken', () => {
  it('makes distinct rh_ tokens carrying 256 random bits', () => {
    const tokens = Array.from({ length: 200 }, generateToken);
    expect(new Set(tokens).size).toBe(200);
    for (const t of tokens) {
      expect(t.startsWith(TOKEN_PREFIX)).toBe(true);
      expect(Buffer.from(t.slice(TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
    }
  });

  it('hashes with SHA-256 into hex, the same for the same token only', () => {
    const t = generateToken();
    expect(hashToken(t)).toBe(createHash('sha256').update(t).digest('hex'));
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t + 'x')).not.toBe(hashToken(t));
  });
});

describe('TokensRepo', () => {
  it('stores the hash only: no column of the row holds the token or its random part', () => {
    const { token, info } = store.tokens.create({ name: 'ops', role: 'admin' });
    const row = store.db.prepare('SELECT * FROM tokens WHERE id = ?').get(info.id) as Record<string, unknown>;
    expect(row.hash).toBe(hashToken(token));
    const everything = store.dump('tokens');
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.slice(TOKEN_PREFIX.length));
    expect(everything).not.toContain(token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 16));
    // What list and get return carries no token either.
    expect(JSON.stringify([store.tokens.list(), store.tokens.get(info.id)])).not.toContain(token.slice(TOKEN_PREFIX.length));
  });

  it('finds the caller by the token presented, with its role and owner', () => {
    const owner = store.users.create({ email: 'alice@example.com' }).id;
    const admin = store.tokens.create({ name: 'ops', role: 'admin' });
    const client = store.tokens.create({ name: 'panel', role: 'client', ownerId: owner });
    expect(store.tokens.authenticate(admin.token)).toEqual({ tokenId: admin.info.id, name: 'ops', role: 'admin', ownerId: null });
    expect(store.tokens.authenticate(client.token)).toEqual({ tokenId: client.info.id, name: 'panel', role: 'client', ownerId: owner });
    expect(store.tokens.get(client.info.id)).toMatchObject({ name: 'panel', role: 'client', ownerId: owner, lastUsedAt: expect.any(String), revokedAt: null });
  });

  it('refuses an unknown token, a near miss, an empty one, and the stored hash presented as a token', () => {
    const { token } = store.tokens.create({ name: 'ops', role: 'admin' });
    const last = token.at(-1)!;
    for (const wrong of [generateToken(), token.slice(0, -1) + (last === 'A' ? 'B' : 'A'), token + ' ', '', hashToken(token)]) {
      expect(store.tokens.authenticate(wrong)).toBeUndefined();
    }
  });

  it('revokes once and for good', () => {
    const a = store.tokens.create({ name: 'a', role: 'tech' });
    const b = store.tokens.create({ name: 'b', role: 'tech' });
    expect(store.tokens.revoke(a.info.id)).toBe(true);
    expect(store.tokens.revoke(a.info.id)).toBe(false);
    expect(store.tokens.revoke(999)).toBe(false);
    expect(store.tokens.authenticate(a.token)).toBeUndefined();
    expect(store.tokens.authenticate(b.token)?.name).toBe('b');
    expect(store.tokens.get(a.info.id)!.revokedAt).toEqual(expect.any(String));
    expect(store.tokens.list().map((t) => [t.name, t.revokedAt === null])).toEqual([['a', false], ['b', true]]);
  });

  it('notes when a token was last used, at most once a minute', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2025-03-01T10:00:00Z'));
    const { token, info } = store.tokens.create({ name: 'ops', role: 'admin' });
    expect(info.lastUsedAt).toBeNull();
    store.tokens.authenticate(token);
    expect(store.tokens.get(info.id)!.lastUsedAt).toBe('2025-03-01T10:00:00.000Z');
    vi.setSystemTime(new Date('2025-03-01T10:00:30Z'));
    store.tokens.authenticate(token);
    expect(store.tokens.get(info.id)!.lastUsedAt).toBe('2025-03-01T10:00:00.000Z');
    vi.setSystemTime(new Date('2025-03-01T10:01:01Z'));
    store.tokens.authenticate(token);
    expect(store.tokens.get(info.id)!.lastUsedAt).toBe('2025-03-01T10:01:01.000Z');
  });

  it('refuses a role the schema does not know at the database too', () => {
    expect(() => store.tokens.create({ name: 'x', role: 'root' as never })).toThrow(/CHECK constraint/);
    expect(store.tokens.list()).toEqual([]);
  });
});

describe('Tokens (the capability)', () => {
  const admin: Principal = { tokenId: 1, name: 'root', role: 'admin', ownerId: null };

  it('creates a token shown once, then only its description', () => {
    const tokens = new Tokens(store.tokens, store.users);
    const made = tokens.create(admin, { name: 'central', role: 'central' });
    expect(made.token.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(store.tokens.authenticate(made.token)?.role).toBe('central');
    expect(JSON.stringify(tokens.list(admin))).not.toContain(made.token);
  });

  it('needs an owner for a client token, and an owner that exists', () => {
    const tokens = new Tokens(store.tokens, store.users);
    const r = newTokenSchema.safeParse({ name: 'panel', role: 'client' });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path).toEqual(['owner_id']);
    expect(newTokenSchema.safeParse({ name: 'x', role: 'admin', extra: 1 }).success).toBe(false);
    let e: unknown;
    try {
      tokens.create(admin, { name: 'panel', role: 'client', owner_id: 42 });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(RackhandError);
    expect((e as RackhandError).code).toBe('NOT_FOUND');
    expect(store.tokens.list()).toEqual([]);
  });

  it('revokes, and says NOT_FOUND for an unknown or already revoked token', () => {
    const tokens = new Tokens(store.tokens, store.users);
    const made = tokens.create(admin, { name: 't', role: 'tech' });
    tokens.revoke(admin, made.id);
    expect(() => tokens.revoke(admin, made.id)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => tokens.revoke(admin, 12345)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('tells any caller who it is, and names it in journals by role, name and token id', () => {
    const client: Principal = { tokenId: 9, name: 'panel', role: 'client', ownerId: 3 };
    expect(new Tokens(store.tokens, store.users).whoami(client)).toEqual({ name: 'panel', role: 'client', owner_id: 3 });
    expect(describePrincipal(client)).toBe('client:panel#9');
  });
});
