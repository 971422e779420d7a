// The role rules and the server-visibility rule (core/access.ts), table by table: what each role may do, and that a
// client neither sees nor acts on another owner's server and is told NOT_FOUND, exactly as for a missing server.
import { describe, expect, it } from 'vitest';
import { can, canSeeServer, requireAllowed, requireVisibleServer } from '../../src/core/access.js';
import { thrown } from '../thrown.js';
import type { Principal, Role } from '../../src/auth/tokens.js';

const principal = (role: Role, ownerId: number | null = null): Principal => ({ tokenId: 1, name: role, role, ownerId });

const admin = principal('admin');
const central = principal('central');
const tech = principal('tech');
const client7 = principal('client', 7);
/** A client token whose owner is gone (the column allows null): it must see nothing, unowned servers included. */
const ownerless = principal('client', null);

/** Every rule of `can`, and who it lets through. A rule added to `can` without a row here fails the first test. */
const RULES: Record<keyof typeof can, Role[]> = {
  manageTokens: ['admin'],
  readAudit: ['admin'],
  manageUsers: ['admin', 'central'],
  manageInventory: ['admin', 'central'],
  seeAllServers: ['admin', 'central', 'tech'],
  adoptDiscovered: ['admin', 'central', 'tech'],
  grantBmcAdministrator: ['admin', 'central'],
  acceptBmcCertificates: ['admin'],
  clearEventLog: ['admin', 'tech'],
};

describe('can', () => {
  it('has a row in this table for every rule', () => {
    expect(Object.keys(can).sort()).toEqual(Object.keys(RULES).sort());
  });

  const cases = Object.entries(RULES).flatMap(([rule, allowed]) =>
    (['admin', 'central', 'tech', 'client'] as Role[]).map((role) => ({ rule: rule as keyof typeof can, role, allowed: allowed.includes(role) })),
  );
  it.each(cases)('$rule for $role: $allowed', ({ rule, role, allowed }) => {
    expect(can[rule](principal(role, role === 'client' ? 7 : null))).toBe(allowed);
  });

  it('gives a client nothing on account of its owner', () => {
    for (const rule of Object.keys(RULES) as (keyof typeof can)[]) expect(can[rule](client7)).toBe(false);
  });
});

describe('canSeeServer', () => {
  const mine = { ownerId: 7 };
  const theirs = { ownerId: 8 };
  const unowned = { ownerId: null };
  const cases: { who: string; p: Principal; server: { ownerId: number | null } | undefined; seen: boolean }[] = [
    ...[admin, central, tech].flatMap((p) => [
      { who: p.role, p, server: mine, seen: true },
      { who: p.role, p, server: theirs, seen: true },
      { who: p.role, p, server: unowned, seen: true },
      { who: p.role, p, server: undefined, seen: false },
    ]),
    { who: 'client 7', p: client7, server: mine, seen: true },
    { who: 'client 7', p: client7, server: theirs, seen: false },
    { who: 'client 7', p: client7, server: unowned, seen: false },
    { who: 'client 7', p: client7, server: undefined, seen: false },
    { who: 'client without owner', p: ownerless, server: mine, seen: false },
    { who: 'client without owner', p: ownerless, server: unowned, seen: false },
  ];
  it.each(cases)('$who, server owned by $server.ownerId: $seen', ({ p, server, seen }) => {
    expect(canSeeServer(p, server)).toBe(seen);
  });
});

describe('requireVisibleServer', () => {
  it('returns the very server a caller may see', () => {
    const s = { ownerId: 7, name: 'a' };
    expect(requireVisibleServer(client7, s, 3)).toBe(s);
    expect(requireVisibleServer(tech, { ownerId: 8, name: 'b' }, 4)).toEqual({ ownerId: 8, name: 'b' });
  });

  it('answers a client about another owner\'s server exactly as about a server that does not exist', () => {
    const hidden = thrown(() => requireVisibleServer(client7, { ownerId: 8 }, 9));
    const missing = thrown(() => requireVisibleServer(client7, undefined, 9));
    expect(hidden.code).toBe('NOT_FOUND');
    expect(hidden.status).toBe(404);
    expect({ code: hidden.code, message: hidden.message, details: hidden.details }).toEqual({
      code: missing.code,
      message: missing.message,
      details: missing.details,
    });
    expect(hidden.message).toBe('server 9 not found');
    expect(thrown(() => requireVisibleServer(ownerless, { ownerId: null }, 5)).code).toBe('NOT_FOUND');
  });

  it('is NOT_FOUND for staff too when the server is missing', () => {
    expect(thrown(() => requireVisibleServer(admin, undefined, 1)).code).toBe('NOT_FOUND');
  });
});

describe('requireAllowed', () => {
  it('passes when allowed and is FORBIDDEN naming the action when not', () => {
    expect(() => requireAllowed(true, 'manage tokens')).not.toThrow();
    const e = thrown(() => requireAllowed(can.manageTokens(tech), 'manage tokens'));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.status).toBe(403);
    expect(e.message).toBe('this token may not manage tokens');
  });
});
