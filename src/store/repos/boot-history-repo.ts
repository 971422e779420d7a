// The boot_events table: batches of boot events appended in one transaction, each host's newest kept, read per
// server or MAC, pruned by count (per host and in all) and by age.
import type { Db } from '../sqlite-store.js';
import { statements } from '../sqlite-store.js';

export interface StoredBootEvent {
  at: number;
  /** The bound's key: server:<id>, else mac:<mac>, else ip:<address>. */
  host: string;
  serverId: number | null;
  mac: string | null;
  ip: string;
  kind: string;
  detail: string;
}

export interface BootHistoryRecord {
  id: number;
  at: string;
  serverId: number | null;
  mac: string | null;
  ip: string;
  kind: string;
  detail: string;
}

interface Row {
  id: number;
  at: number;
  server_id: number | null;
  mac: string | null;
  ip: string;
  kind: string;
  detail: string;
}

export class BootHistoryRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  /** One batch in one transaction; then each host in it keeps its newest `perHost`, and all hosts `maxEvents`. */
  append(events: StoredBootEvent[], bounds: { perHost: number; maxEvents: number }): void {
    const insert = this.sql('INSERT INTO boot_events (at, host, server_id, mac, ip, kind, detail) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const trimHost = this.sql(
      'DELETE FROM boot_events WHERE host = @host AND id <= (SELECT id FROM boot_events WHERE host = @host ORDER BY id DESC LIMIT 1 OFFSET @keep)',
    );
    const trimAll = this.sql('DELETE FROM boot_events WHERE id <= (SELECT max(id) FROM boot_events) - ?');
    this.db.transaction(() => {
      for (const e of events) insert.run(e.at, e.host, e.serverId, e.mac, e.ip, e.kind, e.detail);
      for (const host of new Set(events.map((e) => e.host))) trimHost.run({ host, keep: bounds.perHost });
      trimAll.run(bounds.maxEvents);
    })();
  }

  /**
   * A server's events, newest first: those recorded for it, those of its MACs from before it was in the inventory,
   * and those only an address identified (TFTP) when it is one of the server's.
   */
  forServer(serverId: number, macs: string[], addresses: string[], page: { limit: number; offset: number }): { list: BootHistoryRecord[]; total: number } {
    const where = `server_id = @id OR mac IN (SELECT value FROM json_each(@macs))
      OR (server_id IS NULL AND mac IS NULL AND ip IN (SELECT value FROM json_each(@addresses)))`;
    const args = { id: serverId, macs: JSON.stringify(macs), addresses: JSON.stringify(addresses) };
    return this.page(where, args, page);
  }

  forMac(mac: string, page: { limit: number; offset: number }): { list: BootHistoryRecord[]; total: number } {
    return this.page('mac = @mac', { mac }, page);
  }

  pruneBefore(ms: number): number {
    return this.sql('DELETE FROM boot_events WHERE at < ?').run(ms).changes;
  }

  count(): number {
    return (this.sql('SELECT count(*) AS n FROM boot_events').get() as { n: number }).n;
  }

  private page(where: string, args: Record<string, unknown>, page: { limit: number; offset: number }): { list: BootHistoryRecord[]; total: number } {
    const total = (this.sql(`SELECT count(*) AS n FROM boot_events WHERE ${where}`).get(args) as { n: number }).n;
    const rows = this.sql(`SELECT id, at, server_id, mac, ip, kind, detail FROM boot_events WHERE ${where} ORDER BY id DESC LIMIT @limit OFFSET @offset`).all({
      ...args,
      ...page,
    }) as Row[];
    return {
      list: rows.map((r) => ({ id: r.id, at: new Date(r.at).toISOString(), serverId: r.server_id, mac: r.mac, ip: r.ip, kind: r.kind, detail: r.detail })),
      total,
    };
  }
}
