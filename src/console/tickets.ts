// Console tickets: how they are made, hashed for storage and logs, and an in-memory authority (tests, reference).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hashToken } from '../auth/tokens.js';
import type { ConsoleGrant, ConsoleTicketAuthority, UpgradeContext } from './vnc-proxy.js';

/** 32 random bytes, base64url: safe in a URL fragment and a query string without escaping. */
export function generateTicket(): string {
  return randomBytes(32).toString('base64url');
}

/** What to store instead of the ticket (a leaked database must not yield live tickets). */
export const hashTicket = hashToken;

/** The only form of a ticket that may appear in a log line. */
export function ticketFingerprint(ticket: string): string {
  return hashTicket(ticket).slice(0, 12);
}

/** Shape check done before any lookup: base64url, bounded length. */
export function isPlausibleTicket(ticket: unknown): ticket is string {
  return typeof ticket === 'string' && ticket.length >= 16 && ticket.length <= 256 && /^[A-Za-z0-9_-]+$/.test(ticket);
}

interface TicketEntry {
  hash: string;
  grant: ConsoleGrant;
  expiresAt: number;
}

/**
 * Single-use, short-lived tickets held in memory. The real authority lives with the session records in the
 * store; this one is for tests and documents the contract: redeem consumes, expired/unknown is null.
 */
export class InMemoryTicketAuthority implements ConsoleTicketAuthority {
  private readonly entries = new Map<string, TicketEntry>();
  /** Every redeem attempt, for tests to inspect (ticket fingerprints only). */
  readonly attempts: { fingerprint: string; ok: boolean; ctx: UpgradeContext }[] = [];

  constructor(private readonly ttlMs = 60_000, private readonly now: () => number = Date.now) {}

  issue(grant: ConsoleGrant, ttlMs = this.ttlMs): string {
    const ticket = generateTicket();
    const hash = hashTicket(ticket);
    this.entries.set(hash, { hash, grant, expiresAt: this.now() + ttlMs });
    return ticket;
  }

  /** recreate_novnc / stop_novnc: every unused ticket of the session dies. */
  revokeSession(sessionId: string): number {
    let n = 0;
    for (const [h, e] of this.entries) {
      if (e.grant.sessionId === sessionId) {
        this.entries.delete(h);
        n++;
      }
    }
    return n;
  }

  redeem(ticket: string, ctx: UpgradeContext): ConsoleGrant | null {
    const hash = hashTicket(ticket);
    const entry = this.entries.get(hash);
    const ok =
      entry !== undefined &&
      timingSafeEqual(Buffer.from(entry.hash, 'hex'), Buffer.from(hash, 'hex')) &&
      entry.expiresAt > this.now();
    this.entries.delete(hash);
    this.attempts.push({ fingerprint: hash.slice(0, 12), ok, ctx });
    return ok ? entry!.grant : null;
  }
}
