// The audit capability: every mutating API request recorded (by the face machinery, once for all faces), kept
// for a bounded time and number, and read by admins only.
import type { Principal } from '../auth/tokens.js';
import type { AuditEntry, AuditFilter, AuditRecord, AuditRepo } from '../store/repos/audit-repo.js';
import { can, requireAllowed } from './access.js';

export interface AuditSettings {
  retentionDays: number;
  /** Entries kept at most, newest first. */
  maxEntries: number;
}

/** Prune after this many new entries as well as on the agent's hourly timer: a burst stays bounded too. */
const PRUNE_EVERY = 1000;

export class Audit {
  private sincePrune = 0;

  constructor(
    private readonly repo: AuditRepo,
    private readonly settings: AuditSettings,
  ) {}

  record(e: AuditEntry): void {
    this.repo.append(e);
    if (++this.sincePrune >= PRUNE_EVERY) this.prune();
  }

  prune(now = new Date()): number {
    this.sincePrune = 0;
    return this.repo.prune(new Date(now.getTime() - this.settings.retentionDays * 86400_000).toISOString(), this.settings.maxEntries);
  }

  list(p: Principal, filter: AuditFilter): { list: AuditRecord[]; total: number } {
    requireAllowed(can.readAudit(p), 'read the audit log');
    return this.repo.list(filter);
  }
}
