// The bmc_event_log_seen table: which entries of each server's BMC event log rackhand has read, and how many
// critical ones it has seen appear (the counter /metrics exports).
import { createHash } from 'node:crypto';
import type { BmcEventLogEntry } from '../../bmc/bmc-driver.js';
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';

/** An entry's identity across reads: a SEL record id is reused after a clear, so its time and text count too. */
const keyOf = (e: BmcEventLogEntry) => createHash('sha1').update(`${e.id}\u0000${e.time ?? ''}\u0000${e.severity}\u0000${e.message}`).digest('hex').slice(0, 16);

export class EventLogRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  /** A fresh read of a server's log: how many critical entries in it were not there at the last read. */
  record(serverId: number, entries: BmcEventLogEntry[]): { newCritical: number } {
    return this.db.transaction(() => {
      const row = this.sql('SELECT entry_keys FROM bmc_event_log_seen WHERE server_id = ?').get(serverId) as { entry_keys: string } | undefined;
      const before = new Set<string>(row ? (JSON.parse(row.entry_keys) as string[]) : []);
      const keys = entries.map(keyOf);
      const newCritical = entries.filter((e, i) => e.severity === 'critical' && !before.has(keys[i]!)).length;
      this.sql(
        `INSERT INTO bmc_event_log_seen (server_id, entry_keys, critical_total, read_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(server_id) DO UPDATE SET entry_keys = excluded.entry_keys, critical_total = critical_total + excluded.critical_total, read_at = excluded.read_at`,
      ).run(serverId, JSON.stringify(keys), newCritical, nowIso());
      return { newCritical };
    })();
  }

  /** Critical entries seen appear per server since its first read (a counter: it only grows). */
  criticalTotals(): { serverId: number; total: number }[] {
    return (this.sql('SELECT server_id, critical_total FROM bmc_event_log_seen ORDER BY server_id').all() as { server_id: number; critical_total: number }[]).map((r) => ({
      serverId: r.server_id,
      total: r.critical_total,
    }));
  }
}
