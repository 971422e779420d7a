// The discovered table: MACs that asked to network-boot but are not in the inventory, for techs to adopt; capped and aged.
import type { Db } from '../sqlite-store.js';
import { statements } from '../sqlite-store.js';
import type { DiscoveredClient } from '../../boot/boot-lookup.js';

export interface DiscoveredRecord extends Omit<DiscoveredClient, 'seen'> {
  firstSeen: string;
  lastSeen: string;
  seenCount: number;
}

export interface DiscoveredPage {
  list: DiscoveredRecord[];
  /** Rows in the table (not expired), for paging. */
  total: number;
}

export interface DiscoveredRepoOptions {
  /** Most rows kept; past it the least recently seen go first. Default 10,000. */
  maxRows?: number;
  /** A MAC not seen for this long is forgotten. Default 30 days. */
  maxAgeMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Expired rows are deleted at most this often (reads filter them out in between). */
const PRUNE_EVERY_MS = 60_000;
/** Pruning for the cap goes a little below it, so a full table is not pruned on every insert. */
const CAP_SLACK = 0.9;

export class DiscoveredRepo {
  private readonly sql: ReturnType<typeof statements>;
  private readonly maxRows: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  /** Row count as of the last prune plus inserts since; undefined until first needed. */
  private rows: number | undefined;
  private prunedAt = 0;

  constructor(db: Db, opts: DiscoveredRepoOptions = {}) {
    this.sql = statements(db);
    this.maxRows = Math.max(1, opts.maxRows ?? 10_000);
    this.maxAgeMs = Math.max(1, opts.maxAgeMs ?? 30 * 86400_000);
    this.now = opts.now ?? Date.now;
  }

  record(c: DiscoveredClient): void {
    const now = new Date(this.now()).toISOString();
    const seen = Math.max(1, Math.floor(c.seen ?? 1));
    const row = this.sql(
      `INSERT INTO discovered (mac, arch, vendor_class, user_class, uuid, relay, first_seen, last_seen, seen_count)
       VALUES (@mac, @arch, @vendor_class, @user_class, @uuid, @relay, @now, @now, @seen)
       ON CONFLICT(mac) DO UPDATE SET arch = coalesce(excluded.arch, arch), vendor_class = coalesce(excluded.vendor_class, vendor_class),
         user_class = coalesce(excluded.user_class, user_class), uuid = coalesce(excluded.uuid, uuid),
         relay = coalesce(excluded.relay, relay), last_seen = excluded.last_seen, seen_count = seen_count + excluded.seen_count
       RETURNING seen_count = @seen AS inserted`,
    ).get({
      mac: c.mac,
      arch: c.arch ?? null,
      vendor_class: c.vendorClass ?? null,
      user_class: c.userClass ?? null,
      uuid: c.uuid ?? null,
      relay: c.relay ?? null,
      now,
      seen,
    }) as { inserted: number };
    if (row.inserted && this.rows !== undefined) this.rows += 1;
    if ((this.rows ?? this.count()) > this.maxRows || this.now() - this.prunedAt >= PRUNE_EVERY_MS) this.prune();
  }

  /** Newest sighting first. */
  list(page: { limit?: number; offset?: number } = {}): DiscoveredPage {
    const cutoff = this.cutoff();
    const limit = Math.max(0, Math.floor(page.limit ?? -1)) || -1; // -1: SQLite's "no limit"
    const rows = this.sql('SELECT * FROM discovered WHERE last_seen >= ? ORDER BY last_seen DESC, mac LIMIT ? OFFSET ?').all(
      cutoff,
      limit,
      Math.max(0, Math.floor(page.offset ?? 0)),
    ) as DiscoveredRow[];
    const { n } = this.sql('SELECT count(*) AS n FROM discovered WHERE last_seen >= ?').get(cutoff) as { n: number };
    return { list: rows.map(toRecord), total: n };
  }

  get(mac: string): DiscoveredRecord | undefined {
    const r = this.sql('SELECT * FROM discovered WHERE mac = ? AND last_seen >= ?').get(mac, this.cutoff()) as DiscoveredRow | undefined;
    return r && toRecord(r);
  }

  /** Adopted into the inventory: no longer "discovered". */
  remove(mac: string): boolean {
    const gone = this.sql('DELETE FROM discovered WHERE mac = ?').run(mac).changes > 0;
    if (gone && this.rows !== undefined) this.rows -= 1;
    return gone;
  }

  /** Forgets expired rows, then the least recently seen beyond the cap. */
  private prune(): void {
    this.prunedAt = this.now();
    this.sql('DELETE FROM discovered WHERE last_seen < ?').run(this.cutoff());
    let rows = this.count();
    if (rows > this.maxRows) {
      const excess = rows - Math.floor(this.maxRows * CAP_SLACK);
      this.sql('DELETE FROM discovered WHERE mac IN (SELECT mac FROM discovered ORDER BY last_seen, mac LIMIT ?)').run(excess);
      rows = this.count();
    }
    this.rows = rows;
  }

  private count(): number {
    const { n } = this.sql('SELECT count(*) AS n FROM discovered').get() as { n: number };
    this.rows = n;
    return n;
  }

  private cutoff(): string {
    return new Date(this.now() - this.maxAgeMs).toISOString();
  }
}

interface DiscoveredRow {
  mac: string;
  arch: number | null;
  vendor_class: string | null;
  user_class: string | null;
  uuid: string | null;
  relay: string | null;
  first_seen: string;
  last_seen: string;
  seen_count: number;
}

function toRecord(r: DiscoveredRow): DiscoveredRecord {
  return {
    mac: r.mac,
    arch: r.arch ?? undefined,
    vendorClass: r.vendor_class ?? undefined,
    userClass: r.user_class ?? undefined,
    uuid: r.uuid ?? undefined,
    relay: r.relay ?? undefined,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    seenCount: r.seen_count,
  };
}
