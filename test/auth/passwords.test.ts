// User passwords (auth/passwords.ts, through store/repos/users-repo.ts): scrypt with a fresh salt, self-describing,
// and the users table never holds the password itself.
import { scryptSync, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/passwords.js';
import { memoryStore } from '../store/memory-store.js';

/** Check a password against a stored hash the way its self-description says (what a verifier must do). */
function matches(stored: string, password: string): boolean {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt') return false;
  const want = Buffer.from(key, 'base64');
  const got = scryptSync(password, Buffer.from(salt, 'base64'), want.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(got, want);
}

describe('hashPassword', () => {
  it('is scrypt$N$r$p$salt$key with a 16-byte salt and a 32-byte key, and only the password matches it', () => {
    const h = hashPassword('correct horse battery staple');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    const [, , , , salt, key] = h.split('$');
    expect(Buffer.from(salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect(matches(h, 'correct horse battery staple')).toBe(true);
    expect(matches(h, 'correct horse battery stapl')).toBe(false);
    expect(h).not.toContain('correct horse');
  });

  it('salts every hash afresh: the same password hashes differently each time', () => {
    const a = hashPassword('same password');
    const b = hashPassword('same password');
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]);
    expect(matches(a, 'same password') && matches(b, 'same password')).toBe(true);
  });
});

describe('UsersRepo passwords', () => {
  it('stores a scrypt hash of the password and never the password', () => {
    const store = memoryStore();
    const u = store.users.create({ email: 'alice@example.com', password: 'Sup3r-Secret-pw' });
    const row = store.db.prepare('SELECT password_hash FROM users WHERE id = ?').get(u.id) as { password_hash: string };
    expect(matches(row.password_hash, 'Sup3r-Secret-pw')).toBe(true);
    expect(store.dump('users')).not.toContain('Sup3r-Secret-pw');
    expect(JSON.stringify(u)).not.toContain('password');
    const none = store.users.create({ email: 'bob@example.com' });
    expect((store.db.prepare('SELECT password_hash FROM users WHERE id = ?').get(none.id) as { password_hash: null }).password_hash).toBeNull();
  });

  it('refuses a second user with the same email, in any case, as CONFLICT', () => {
    const store = memoryStore();
    store.users.create({ email: 'alice@example.com' });
    expect(() => store.users.create({ email: 'ALICE@example.com' })).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(store.users.findByEmail('Alice@Example.com')?.email).toBe('alice@example.com');
    expect(store.users.list({ limit: 100, offset: 0 }).total).toBe(1);
  });
});
