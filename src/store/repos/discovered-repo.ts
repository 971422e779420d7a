// The discovered table: MACs that asked to network-boot but are not in the inventory, for techs to adopt.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';
import type { DiscoveredClient } from '../../boot/boot-lookup.js';

export interface DiscoveredRecord extends DiscoveredClient {
  firstSeen: string;
  lastSeen: string;
  seenCount: number;
}

export class DiscoveredRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(db: Db) {
    this.sql = statements(db);
  }

  record(c: DiscoveredClient): void {
    const now = nowIso();
    this.sql(
      `INSERT INTO discovered (mac, arch, vendor_class, user_class, uuid, relay, first_seen, last_seen)
       VALUES (@mac, @arch, @vendor_class, @user_class, @uuid, @relay, @now, @now)
       ON CONFLICT(mac) DO UPDATE SET arch = coalesce(excluded.arch, arch), vendor_class = coalesce(excluded.vendor_class, vendor_class),
         user_class = coalesce(excluded.user_class, user_class), uuid = coalesce(excluded.uuid, uuid),
         relay = coalesce(excluded.relay, relay), last_seen = excluded.last_seen, seen_count = seen_count + 1`,
    ).run({
      mac: c.mac,
      arch: c.arch ?? null,
      vendor_class: c.vendorClass ?? null,
      user_class: c.userClass ?? null,
      uuid: c.uuid ?? null,
      relay: c.relay ?? null,
      now,
    });
  }

  list(): DiscoveredRecord[] {
    return (this.sql('SELECT * FROM discovered ORDER BY last_seen DESC').all() as any[]).map((r) => ({
      mac: r.mac,
      arch: r.arch ?? undefined,
      vendorClass: r.vendor_class ?? undefined,
      userClass: r.user_class ?? undefined,
      uuid: r.uuid ?? undefined,
      relay: r.relay ?? undefined,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      seenCount: r.seen_count,
    }));
  }

  /** Adopted into the inventory: no longer "discovered". */
  remove(mac: string): boolean {
    return this.sql('DELETE FROM discovered WHERE mac = ?').run(mac).changes > 0;
  }
}
