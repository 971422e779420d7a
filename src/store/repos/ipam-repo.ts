// The IPAM tables (ip_networks, ip_pools, ip_pool_ranges, ip_addresses): rows in, records out, no policy.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';
import { formatIp, parseIp, type IpFamily } from '../../domain/ip-address.js';

/** Zero-padded hex of an address value: text order equals numeric order, for both families. */
export function ipKey(v: bigint): string {
  return v.toString(16).padStart(32, '0');
}

export function keyValue(key: string): bigint {
  return BigInt('0x' + key);
}

export interface NetworkRow {
  id: number;
  name: string;
  family: IpFamily;
  network: string;
  prefix: number;
  gateway: string | null;
  vlan: string;
  note: string;
  dns: string;
  userspace: number;
  created_at: string;
}

export interface PoolRow {
  id: number;
  name: string;
  note: string;
  is_public: number;
  userspace: number;
  created_at: string;
}

export interface RangeRow {
  id: number;
  pool_id: number;
  network_id: number;
  first_key: string;
  last_key: string;
}

export interface AddressRow {
  id: number;
  server_id: number;
  server_name: string;
  family: IpFamily;
  ip: string;
  ip_key: string;
  network_id: number;
  network_name: string;
  prefix: number;
  gateway: string | null;
  pool_id: number | null;
  domain: string;
  is_main: number;
  status: string;
  userspace: number;
  created_at: string;
}

const ADDRESS_SELECT = `
  SELECT a.*, s.name AS server_name, n.name AS network_name, n.prefix, n.gateway
  FROM ip_addresses a JOIN servers s ON s.id = a.server_id JOIN ip_networks n ON n.id = a.network_id`;

export class IpamRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(readonly db: Db) {
    this.sql = statements(db);
  }

  /** BEGIN IMMEDIATE: the write lock is taken before the first read, so a read-then-insert cannot race another writer. */
  immediate<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  insertNetwork(n: Omit<NetworkRow, 'id' | 'created_at'>): number {
    return Number(
      this.sql(
        `INSERT INTO ip_networks (name, family, network, prefix, gateway, vlan, note, dns, userspace, created_at)
         VALUES (@name, @family, @network, @prefix, @gateway, @vlan, @note, @dns, @userspace, @created_at)`,
      ).run({ ...n, created_at: nowIso() }).lastInsertRowid,
    );
  }

  networks(): NetworkRow[] {
    return this.sql('SELECT * FROM ip_networks ORDER BY id').all() as NetworkRow[];
  }

  network(id: number): NetworkRow | undefined {
    return this.sql('SELECT * FROM ip_networks WHERE id = ?').get(id) as NetworkRow | undefined;
  }

  networkByName(name: string): NetworkRow | undefined {
    return this.sql('SELECT * FROM ip_networks WHERE name = ?').get(name) as NetworkRow | undefined;
  }

  /** Addresses in use per network. */
  networkUsage(): Map<number, number> {
    const rows = this.sql('SELECT network_id, count(*) AS n FROM ip_addresses GROUP BY network_id').all() as { network_id: number; n: number }[];
    return new Map(rows.map((r) => [r.network_id, r.n]));
  }

  insertPool(p: Omit<PoolRow, 'id' | 'created_at'>): number {
    return Number(
      this.sql('INSERT INTO ip_pools (name, note, is_public, userspace, created_at) VALUES (@name, @note, @is_public, @userspace, @created_at)')
        .run({ ...p, created_at: nowIso() }).lastInsertRowid,
    );
  }

  insertRange(r: Omit<RangeRow, 'id'>): void {
    this.sql('INSERT INTO ip_pool_ranges (pool_id, network_id, first_key, last_key) VALUES (@pool_id, @network_id, @first_key, @last_key)').run(r);
  }

  pools(): PoolRow[] {
    return this.sql('SELECT * FROM ip_pools ORDER BY id').all() as PoolRow[];
  }

  pool(id: number): PoolRow | undefined {
    return this.sql('SELECT * FROM ip_pools WHERE id = ?').get(id) as PoolRow | undefined;
  }

  poolByName(name: string): PoolRow | undefined {
    return this.sql('SELECT * FROM ip_pools WHERE name = ?').get(name) as PoolRow | undefined;
  }

  ranges(poolId?: number): RangeRow[] {
    return (
      poolId === undefined
        ? this.sql('SELECT * FROM ip_pool_ranges ORDER BY pool_id, first_key').all()
        : this.sql('SELECT * FROM ip_pool_ranges WHERE pool_id = ? ORDER BY first_key').all(poolId)
    ) as RangeRow[];
  }

  /** A range of this network that shares an address with [first, last]. */
  overlappingRange(networkId: number, firstKey: string, lastKey: string): RangeRow | undefined {
    return this.sql('SELECT * FROM ip_pool_ranges WHERE network_id = ? AND first_key <= ? AND last_key >= ? LIMIT 1')
      .get(networkId, lastKey, firstKey) as RangeRow | undefined;
  }

  /** Addresses in use inside the pool's ranges, per family. */
  poolUsage(poolId: number): { 4: number; 6: number } {
    const rows = this.sql(
      `SELECT a.family, count(*) AS n FROM ip_addresses a JOIN ip_pool_ranges r
         ON a.network_id = r.network_id AND a.ip_key BETWEEN r.first_key AND r.last_key
       WHERE r.pool_id = ? GROUP BY a.family`,
    ).all(poolId) as { family: IpFamily; n: number }[];
    const out = { 4: 0, 6: 0 };
    for (const r of rows) out[r.family] = r.n;
    return out;
  }

  /** Keys in use inside [firstKey, lastKey] of a network, ascending. */
  takenKeys(networkId: number, firstKey: string, lastKey: string): string[] {
    return (
      this.sql('SELECT ip_key FROM ip_addresses WHERE network_id = ? AND ip_key BETWEEN ? AND ? ORDER BY ip_key')
        .all(networkId, firstKey, lastKey) as { ip_key: string }[]
    ).map((r) => r.ip_key);
  }

  addressByKey(family: IpFamily, key: string): { id: number; server_id: number } | undefined {
    return this.sql('SELECT id, server_id FROM ip_addresses WHERE family = ? AND ip_key = ?').get(family, key) as
      | { id: number; server_id: number }
      | undefined;
  }

  insertAddress(a: {
    server_id: number;
    family: IpFamily;
    value: bigint;
    network_id: number;
    pool_id: number | null;
    domain: string;
    is_main: boolean;
    userspace: number;
  }): number {
    return Number(
      this.sql(
        `INSERT INTO ip_addresses (server_id, family, ip, ip_key, network_id, pool_id, domain, is_main, status, userspace, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
      ).run(
        a.server_id,
        a.family,
        formatIp(a.family, a.value),
        ipKey(a.value),
        a.network_id,
        a.pool_id,
        a.domain,
        a.is_main ? 1 : 0,
        a.userspace,
        nowIso(),
      ).lastInsertRowid,
    );
  }

  clearMain(serverId: number): void {
    this.sql('UPDATE ip_addresses SET is_main = 0 WHERE server_id = ? AND is_main = 1').run(serverId);
  }

  /** The server's first interface carries its main IPv4, so every existing lookup by IP or MAC sees it. */
  setFirstInterfaceIp(serverId: number, ip: string | null): void {
    this.sql('UPDATE interfaces SET ip = ? WHERE id = (SELECT id FROM interfaces WHERE server_id = ? ORDER BY id LIMIT 1)').run(ip, serverId);
  }

  clearInterfaceIp(serverId: number, ip: string): void {
    this.sql('UPDATE interfaces SET ip = NULL WHERE server_id = ? AND ip = ?').run(serverId, ip);
  }

  address(id: number): AddressRow | undefined {
    return this.sql(`${ADDRESS_SELECT} WHERE a.id = ?`).get(id) as AddressRow | undefined;
  }

  deleteAddress(id: number): void {
    this.sql('DELETE FROM ip_addresses WHERE id = ?').run(id);
  }

  /** The addresses of these servers, each with its pool's public flag (null: not given from a pool); no count. */
  addressesOf(serverIds: number[]): (AddressRow & { pool_public: number | null })[] {
    const select = `${ADDRESS_SELECT.replace('FROM ip_addresses a', 'FROM ip_addresses a LEFT JOIN ip_pools p ON p.id = a.pool_id').replace('SELECT a.*,', 'SELECT a.*, p.is_public AS pool_public,')}`;
    return (
      serverIds.length === 1
        ? this.sql(`${select} WHERE a.server_id = ? ORDER BY a.id`).all(serverIds[0])
        : this.sql(`${select} WHERE a.server_id IN (SELECT value FROM json_each(?)) ORDER BY a.id`).all(JSON.stringify(serverIds))
    ) as (AddressRow & { pool_public: number | null })[];
  }

  /** Every pool range with its family and its pool's public flag (a short table: read once per page). */
  rangesWithPools(): { family: IpFamily; first_key: string; last_key: string; is_public: number }[] {
    return this.sql(
      `SELECT n.family, r.first_key, r.last_key, p.is_public FROM ip_pool_ranges r
       JOIN ip_networks n ON n.id = r.network_id JOIN ip_pools p ON p.id = r.pool_id`,
    ).all() as { family: IpFamily; first_key: string; last_key: string; is_public: number }[];
  }

  addresses(filter: { serverId?: number; ownerId?: number; limit?: number; offset?: number }): { rows: AddressRow[]; total: number } {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (filter.serverId !== undefined) (where.push('a.server_id = @server'), (args.server = filter.serverId));
    if (filter.ownerId !== undefined) (where.push('s.owner_id = @owner'), (args.owner = filter.ownerId));
    const clause = where.length ? ' WHERE ' + where.join(' AND ') : '';
    const total = (
      this.sql(`SELECT count(*) AS n FROM ip_addresses a JOIN servers s ON s.id = a.server_id${clause}`).get(args) as { n: number }
    ).n;
    const rows = this.sql(`${ADDRESS_SELECT}${clause} ORDER BY a.id LIMIT @limit OFFSET @offset`).all({
      ...args,
      limit: filter.limit ?? -1,
      offset: filter.offset ?? 0,
    }) as AddressRow[];
    return { rows, total };
  }

  mainIpv4(serverId: number): (AddressRow & { dns: string }) | undefined {
    return this.sql(
      `SELECT a.*, s.name AS server_name, n.name AS network_name, n.prefix, n.gateway, n.dns
       FROM ip_addresses a JOIN servers s ON s.id = a.server_id JOIN ip_networks n ON n.id = a.network_id
       WHERE a.server_id = ? AND a.is_main = 1 AND a.family = 4`,
    ).get(serverId) as (AddressRow & { dns: string }) | undefined;
  }
}

/** Parse a stored canonical address back to its value (rows are written canonical, so this cannot fail). */
export function storedValue(ip: string): bigint {
  return parseIp(ip)!.value;
}
