// The servers and interfaces tables: upsert, read as ServerRecord, filter, and the BMC/console secrets.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';
import type { SecretBox } from '../secret-box.js';
import { RackhandError } from '../../errors.js';
import type {
  LastPower,
  ServerFilter,
  ServerInput,
  ServerInterface,
  ServerRecord,
  ServerStatus,
  BmcDriverName,
  BootVia,
} from '../../domain/server.js';
import { defaultBmcPort } from '../../domain/server.js';
import type { BmcTarget } from '../../bmc/bmc-driver.js';
import { canonicalIp } from '../../domain/ip-address.js';

/** The ownership rule on import: a server given an owner is rented, not free. */
function statusForOwner(status: ServerStatus, ownerId: number | null): ServerStatus {
  return ownerId !== null && status === 'free' ? 'rent' : status;
}

interface ServerRow {
  id: number;
  name: string;
  status: string;
  type: string;
  location: string;
  location_id: number | null;
  datacenter: string;
  rack: string;
  rack_position: number | null;
  configuration: string;
  preset: string;
  os_id: number | null;
  os_name: string;
  owner_id: number | null;
  tags: string;
  groups: string;
  hardware: string;
  bmc_driver: string | null;
  bmc_host: string | null;
  bmc_port: number | null;
  bmc_username: string | null;
  bmc_password_enc: string | null;
  bmc_model: string;
  bmc_mac: string | null;
  bmc_cipher_suite: number;
  bmc_privilege: string;
  bmc_scheme: string;
  bmc_legacy_tls: number;
  boot_via: string;
  console_type: string | null;
  console_host: string | null;
  console_port: number | null;
  console_password_enc: string | null;
  power_state: string;
  power_read_at: string | null;
  bmc_reachable: number | null;
  bmc_error: string | null;
  suspended: number;
  recurring: number | null;
  nextduedate: string | null;
  billingcycle: string | null;
  created_at: string;
  updated_at: string;
}

/** Every column of ServerRow, in the order the record queries select them. */
const SERVER_COLUMNS = [
  'id', 'name', 'status', 'type', 'location', 'location_id', 'datacenter', 'rack', 'rack_position', 'configuration', 'preset',
  'os_id', 'os_name', 'owner_id', 'tags', 'groups', 'hardware', 'bmc_driver', 'bmc_host', 'bmc_port', 'bmc_username',
  'bmc_password_enc', 'bmc_model', 'bmc_mac', 'bmc_cipher_suite', 'bmc_privilege', 'bmc_scheme', 'bmc_legacy_tls', 'boot_via',
  'console_type', 'console_host', 'console_port', 'console_password_enc', 'power_state', 'power_read_at', 'bmc_reachable',
  'bmc_error', 'suspended', 'recurring', 'nextduedate', 'billingcycle', 'created_at', 'updated_at',
] as const satisfies readonly (keyof ServerRow)[];
// A column added to ServerRow and not to the list above fails the build here.
const everyColumnListed: Exclude<keyof ServerRow, (typeof SERVER_COLUMNS)[number]> extends never ? true : never = true;
void everyColumnListed;
const SERVER_SELECT = SERVER_COLUMNS.map((c) => `s.${c}`).join(', ');
/**
 * A row read as an array (better-sqlite3's raw mode) made into one object literal. better-sqlite3's own row objects
 * get their properties (43 here) one by one, which leaves V8 holding each as a dictionary: a page of 100 servers took
 * ~1 ms and ~680 KiB of garbage to read; as arrays and literals ~0.55 ms and ~240 KiB (50,000-server store).
 * The literal is generated once from the constant column list above (no outside input reaches it).
 */
const serverRowOf = new Function('v', `return { ${SERVER_COLUMNS.map((c, i) => `${c}: v[${i}]`).join(', ')} };`) as (values: unknown[]) => ServerRow;

interface InterfaceRow {
  id: number;
  server_id: number;
  name: string;
  mac: string;
  ip: string | null;
  switch: string | null;
  switch_port: string | null;
}

/** Thrown inside a dry run's transaction to roll it back once every write was checked. */
const DRY_RUN = Symbol('dry run');

const bmcContext = (id: number) => `server:${id}:bmc`;
const consoleContext = (id: number) => `server:${id}:console`;

export class ServersRepo {
  private readonly sql: ReturnType<typeof statements>;
  /** What recordBmcError last wrote per server (this process): unchanged outcomes are not written again. */
  private readonly lastBmcError = new Map<number, string | null>();

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {
    this.sql = statements(db);
  }

  /**
   * Insert or replace servers by id, in one transaction: all or nothing. A server's interfaces are replaced
   * by the given list (kept as they are, ids too, when the list is the same); a BMC or console password left out
   * keeps the stored one. dryRun: every write is made and checked (MAC conflicts…), then rolled back.
   */
  upsertMany(inputs: ServerInput[], opts: { dryRun?: boolean } = {}): { created: number; updated: number } {
    const exists = this.sql('SELECT bmc_password_enc, console_password_enc, created_at FROM servers WHERE id = ?');
    const upsert = this.sql(`
      INSERT INTO servers (id, name, status, type, location, location_id, datacenter, rack, rack_position, configuration,
        preset, os_id, os_name, owner_id, tags, groups, hardware, bmc_driver, bmc_host, bmc_port, bmc_username,
        bmc_password_enc, bmc_model, bmc_mac, bmc_cipher_suite, bmc_privilege, bmc_scheme, bmc_legacy_tls, boot_via, console_type,
        console_host, console_port, console_password_enc, recurring, nextduedate, billingcycle, created_at, updated_at)
      VALUES (@id, @name, @status, @type, @location, @location_id, @datacenter, @rack, @rack_position, @configuration,
        @preset, @os_id, @os_name, @owner_id, @tags, @groups, @hardware, @bmc_driver, @bmc_host, @bmc_port, @bmc_username,
        @bmc_password_enc, @bmc_model, @bmc_mac, @bmc_cipher_suite, @bmc_privilege, @bmc_scheme, @bmc_legacy_tls, @boot_via,
        @console_type, @console_host, @console_port, @console_password_enc, @recurring, @nextduedate, @billingcycle, @created_at, @updated_at)
      ON CONFLICT(id) DO UPDATE SET name=excluded.name, status=excluded.status, type=excluded.type,
        location=excluded.location, location_id=excluded.location_id, datacenter=excluded.datacenter, rack=excluded.rack,
        rack_position=excluded.rack_position, configuration=excluded.configuration, preset=excluded.preset,
        os_id=excluded.os_id, os_name=excluded.os_name, owner_id=excluded.owner_id, tags=excluded.tags,
        groups=excluded.groups, hardware=excluded.hardware, bmc_driver=excluded.bmc_driver, bmc_host=excluded.bmc_host,
        bmc_port=excluded.bmc_port, bmc_username=excluded.bmc_username, bmc_password_enc=excluded.bmc_password_enc,
        bmc_model=excluded.bmc_model, bmc_mac=excluded.bmc_mac, bmc_cipher_suite=excluded.bmc_cipher_suite,
        bmc_privilege=excluded.bmc_privilege, bmc_scheme=excluded.bmc_scheme, bmc_legacy_tls=excluded.bmc_legacy_tls,
        boot_via=excluded.boot_via, console_type=excluded.console_type, console_host=excluded.console_host,
        console_port=excluded.console_port, console_password_enc=excluded.console_password_enc,
        recurring=excluded.recurring, nextduedate=excluded.nextduedate, billingcycle=excluded.billingcycle,
        updated_at=excluded.updated_at`);
    const dropInterfaces = this.sql('DELETE FROM interfaces WHERE server_id = ?');
    const storedInterfaces = this.sql('SELECT name, mac, ip, switch, switch_port FROM interfaces WHERE server_id = ? ORDER BY id');
    const macOwner = this.sql('SELECT server_id FROM interfaces WHERE mac = ?');
    const addInterface = this.sql(
      'INSERT INTO interfaces (server_id, name, mac, ip, switch, switch_port) VALUES (?, ?, ?, ?, ?, ?)',
    );
    let created = 0;
    let updated = 0;
    const now = nowIso();
    const write = this.db.transaction(() => {
      for (const s of inputs) {
        const prev = exists.get(s.id) as
          | { bmc_password_enc: string | null; console_password_enc: string | null; created_at: string }
          | undefined;
        if (prev) updated++;
        else created++;
        this.lastBmcError.delete(s.id);
        const bmcPassword =
          s.bmc?.password !== undefined ? this.secrets.seal(s.bmc.password, bmcContext(s.id)) : s.bmc ? prev?.bmc_password_enc ?? null : null;
        const consolePassword =
          s.console?.password !== undefined
            ? this.secrets.seal(s.console.password, consoleContext(s.id))
            : s.console
              ? prev?.console_password_enc ?? null
              : null;
        upsert.run({
          id: s.id,
          name: s.name,
          status: statusForOwner(s.status, s.owner_id ?? null),
          type: s.type,
          location: s.location,
          location_id: s.location_id ?? null,
          datacenter: s.datacenter,
          rack: s.rack,
          rack_position: s.rack_position ?? null,
          configuration: s.configuration,
          preset: s.preset,
          os_id: s.os?.id ?? null,
          os_name: s.os?.name ?? '',
          owner_id: s.owner_id ?? null,
          tags: JSON.stringify(s.tags),
          groups: JSON.stringify(s.groups),
          hardware: JSON.stringify(s.hardware),
          bmc_driver: s.bmc?.driver ?? null,
          bmc_host: s.bmc?.host ?? null,
          bmc_port: s.bmc ? (s.bmc.port ?? defaultBmcPort(s.bmc.driver, s.bmc.scheme)) : null,
          bmc_username: s.bmc?.username ?? null,
          bmc_password_enc: bmcPassword,
          bmc_model: s.bmc?.model ?? '',
          bmc_mac: s.bmc?.mac ?? null,
          bmc_cipher_suite: s.bmc?.cipher_suite ?? 3,
          bmc_privilege: s.bmc?.privilege ?? 'administrator',
          bmc_scheme: s.bmc?.scheme ?? 'https',
          bmc_legacy_tls: s.bmc?.legacy_tls ? 1 : 0,
          boot_via: s.boot_via ?? 'pxe',
          console_type: s.console?.type ?? null,
          console_host: s.console?.host ?? null,
          console_port: s.console?.port ?? null,
          console_password_enc: consolePassword,
          recurring: s.recurring ?? null,
          nextduedate: s.nextduedate ?? null,
          billingcycle: s.billingcycle ?? null,
          created_at: prev?.created_at ?? now,
          updated_at: now,
        });
        const wanted = s.interfaces.map((i) => [i.name, i.mac, i.ip ?? null, i.switch ?? null, i.switch_port ?? null]);
        const stored = (storedInterfaces.all(s.id) as InterfaceRow[]).map((i) => [i.name, i.mac, i.ip, i.switch, i.switch_port]);
        if (JSON.stringify(wanted) === JSON.stringify(stored)) continue;
        dropInterfaces.run(s.id);
        for (const i of s.interfaces) {
          const owner = macOwner.get(i.mac) as { server_id: number } | undefined;
          if (owner) {
            throw new RackhandError('CONFLICT', `server ${s.id}: MAC ${i.mac} already belongs to server ${owner.server_id}`, {
              field: 'interfaces.mac',
              mac: i.mac,
              server: owner.server_id,
              id: s.id,
            });
          }
          addInterface.run(s.id, i.name, i.mac, i.ip ?? null, i.switch ?? null, i.switch_port ?? null);
        }
      }
      if (opts.dryRun) throw DRY_RUN;
    });
    try {
      write();
    } catch (e) {
      if (e !== DRY_RUN) throw e;
    }
    return { created, updated };
  }

  /** Whether a given password differs from the stored one (a dry run's diff; nothing is shown or kept). */
  secretDiffers(id: number, which: 'bmc' | 'console', value: string): boolean {
    const row = this.sql('SELECT bmc_password_enc, console_password_enc FROM servers WHERE id = ?').get(id) as
      | { bmc_password_enc: string | null; console_password_enc: string | null }
      | undefined;
    const sealed = which === 'bmc' ? row?.bmc_password_enc : row?.console_password_enc;
    if (!sealed) return true;
    return this.secrets.open(sealed, which === 'bmc' ? bmcContext(id) : consoleContext(id)) !== value;
  }

  get(id: number): ServerRecord | undefined {
    const [row] = this.serverRows('WHERE s.id = ?', id);
    if (!row) return undefined;
    return toRecord(row, this.interfacesOf([id]).get(id) ?? []);
  }

  /** Many servers by id in two queries (a bulk import reads every server it names). */
  getMany(ids: number[]): Map<number, ServerRecord> {
    const out = new Map<number, ServerRecord>();
    if (ids.length === 0) return out;
    const rows = this.serverRows('WHERE s.id IN (SELECT value FROM json_each(?))', JSON.stringify(ids));
    const ifaces = this.interfacesOf(rows.map((r) => r.id));
    for (const r of rows) out.set(r.id, toRecord(r, ifaces.get(r.id) ?? []));
    return out;
  }

  require(id: number): ServerRecord {
    const s = this.get(id);
    if (!s) throw new RackhandError('NOT_FOUND', `server ${id} not found`, { id });
    return s;
  }

  exists(id: number): boolean {
    return this.sql('SELECT 1 FROM servers WHERE id = ?').get(id) !== undefined;
  }

  list(filter: ServerFilter = {}): { servers: ServerRecord[]; total: number } {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (filter.id !== undefined) (where.push('s.id = @id'), (args.id = filter.id));
    if (filter.ownerId !== undefined) (where.push('s.owner_id = @owner'), (args.owner = filter.ownerId));
    if (filter.owned) where.push('s.owner_id IS NOT NULL');
    if (filter.status) (where.push('s.status = @status'), (args.status = filter.status));
    if (filter.type) (where.push('s.type = @type COLLATE NOCASE'), (args.type = filter.type));
    if (filter.location) {
      if (/^\d+$/.test(filter.location)) where.push('(s.location_id = @locationId OR s.location = @location)');
      else where.push('s.location = @location COLLATE NOCASE');
      args.location = filter.location;
      args.locationId = Number(filter.location);
    }
    if (filter.group) {
      where.push(
        `EXISTS (SELECT 1 FROM json_each(s.groups) g WHERE json_extract(g.value, '$.name') = @group
           OR CAST(json_extract(g.value, '$.id') AS TEXT) = @group)`,
      );
      args.group = filter.group;
    }
    if (filter.ip) {
      // An interface's own address, or any address IPAM gave the server (stored canonical).
      where.push(`s.id IN (SELECT server_id FROM interfaces WHERE ip IN (@ip, @ipCanonical)
        UNION SELECT server_id FROM ip_addresses WHERE ip = @ipCanonical)`);
      args.ip = filter.ip;
      args.ipCanonical = canonicalIp(filter.ip) ?? filter.ip;
    }
    if (filter.search) {
      where.push(`(s.name LIKE @like ESCAPE '\\' OR s.rack LIKE @like ESCAPE '\\' OR CAST(s.id AS TEXT) = @search
        OR EXISTS (SELECT 1 FROM interfaces i WHERE i.server_id = s.id AND (i.mac LIKE @like ESCAPE '\\' OR i.ip LIKE @like ESCAPE '\\')))`);
      args.search = filter.search;
      args.like = '%' + filter.search.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c) + '%';
    }
    const clause = where.length ? 'WHERE ' + where.join(' AND ') : '';
    const total = (this.sql(`SELECT count(*) AS n FROM servers s ${clause}`).get(args) as { n: number }).n;
    const limit = filter.limit ?? -1;
    const offset = filter.offset ?? 0;
    // Unfiltered (the common page), the offset is skipped in the narrow id index, then only the page's rows are read.
    const rows = clause
      ? this.serverRows(`${clause} ORDER BY s.id LIMIT @limit OFFSET @offset`, { ...args, limit, offset })
      : this.serverRows('WHERE s.id IN (SELECT id FROM servers INDEXED BY servers_page ORDER BY id LIMIT @limit OFFSET @offset) ORDER BY s.id', { limit, offset });
    const ifaces = this.interfacesOf(rows.map((r) => r.id));
    return { servers: rows.map((r) => toRecord(r, ifaces.get(r.id) ?? [])), total };
  }

  delete(id: number): boolean {
    this.lastBmcError.delete(id);
    return this.sql('DELETE FROM servers WHERE id = ?').run(id).changes > 0;
  }

  /** Ownership and status move together on every face: an owner makes a free server rent, a release makes a rented one free. */
  setOwner(id: number, ownerId: number | null): void {
    const r = this.sql(
      `UPDATE servers SET owner_id = @owner,
         status = CASE WHEN @owner IS NOT NULL AND status = 'free' THEN 'rent'
                       WHEN @owner IS NULL AND status = 'rent' THEN 'free' ELSE status END,
         updated_at = @now WHERE id = @id`,
    ).run({ owner: ownerId, now: nowIso(), id });
    if (r.changes === 0) throw new RackhandError('NOT_FOUND', `server ${id} not found`, { id });
  }

  /** A server with an owner is never `free`: asked to be free, it is `rent` (a deploy restoring its status, say). */
  setStatus(id: number, status: ServerStatus): void {
    this.sql(`UPDATE servers SET status = CASE WHEN @status = 'free' AND owner_id IS NOT NULL THEN 'rent' ELSE @status END, updated_at = @now WHERE id = @id`).run({
      status,
      now: nowIso(),
      id,
    });
  }

  /** Switch ports down (DCImanager suspend): changed only once every port is confirmed. */
  setSuspended(id: number, suspended: boolean): void {
    this.sql('UPDATE servers SET suspended = ?, suspended_at = ?, updated_at = ? WHERE id = ?').run(suspended ? 1 : 0, suspended ? nowIso() : null, nowIso(), id);
  }

  recordPower(id: number, state: 'on' | 'off', at = nowIso()): void {
    this.sql('UPDATE servers SET power_state = ?, power_read_at = ?, bmc_reachable = 1, bmc_checked_at = ? WHERE id = ?').run(state, at, at, id);
  }

  /**
   * Many reads at once, in one transaction: a site-wide sync must not pay a commit per server. An unreachable
   * BMC keeps its server's last known power state and when it was read.
   */
  recordPowerMany(reads: { id: number; state: 'on' | 'off' | 'unreachable' }[], at = nowIso()): void {
    const power = this.sql('UPDATE servers SET power_state = ?, power_read_at = ?, bmc_reachable = 1, bmc_checked_at = ? WHERE id = ?');
    const unreachable = this.sql('UPDATE servers SET bmc_reachable = 0, bmc_checked_at = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const r of reads) {
        if (r.state === 'unreachable') unreachable.run(at, r.id);
        else power.run(r.state, at, at, r.id);
      }
    })();
  }



  /**
   * Atomically take the lowest-id free, unowned server matching the filters for an owner; undefined when none.
   * One statement, so two concurrent orders can never get the same server.
   */
  claimFree(f: { id?: number; preset?: string; location?: string; ownerId: number | null }): number | undefined {
    const r = this.sql(
      `UPDATE servers SET status = 'rent', owner_id = @owner, updated_at = @now
       WHERE id = (SELECT id FROM servers WHERE status = 'free' AND owner_id IS NULL
                     AND (@id IS NULL OR id = @id)
                     AND (@preset IS NULL OR preset = @preset OR configuration = @preset)
                     AND (@location IS NULL OR location = @location COLLATE NOCASE)
                   ORDER BY id LIMIT 1)
       RETURNING id`,
    ).get({ id: f.id ?? null, owner: f.ownerId, now: nowIso(), preset: f.preset ?? null, location: f.location ?? null }) as { id: number } | undefined;
    return r?.id;
  }

  /** Undo a claim whose deploy could not start. */
  release(id: number): void {
    this.sql(`UPDATE servers SET status = 'free', owner_id = NULL, updated_at = ? WHERE id = ?`).run(nowIso(), id);
  }

  /**
   * The last BMC call's outcome: its error code (BMC_AUTH_FAILED…), null once a call succeeds (then the BMC is
   * reachable too). Written only when it changes: a site-wide sweep of healthy BMCs writes nothing more.
   */
  recordBmcError(id: number, code: string | null): void {
    if (this.lastBmcError.get(id) === code) return;
    // A call that succeeded reached the BMC, whatever the last sweep said.
    if (code === null) this.sql('UPDATE servers SET bmc_error = NULL, bmc_reachable = 1, bmc_checked_at = ? WHERE id = ?').run(nowIso(), id);
    else this.sql('UPDATE servers SET bmc_error = ? WHERE id = ?').run(code, id);
    this.lastBmcError.set(id, code);
  }

  /**
   * Every server with a BMC and its last known reachability, read PAGE rows at a time as the caller takes them, so a
   * caller that yields between pages (the /metrics writer) never holds the event loop for a whole site's rows.
   */
  *bmcReachability(page = 2_000): Generator<{ serverId: number; reachable: boolean | null }> {
    const read = this.sql('SELECT id, bmc_reachable FROM servers WHERE bmc_driver IS NOT NULL AND id > ? ORDER BY id LIMIT ?');
    for (let after = 0; ; ) {
      const rows = read.all(after, page) as { id: number; bmc_reachable: number | null }[];
      for (const r of rows) yield { serverId: r.id, reachable: r.bmc_reachable === null ? null : r.bmc_reachable === 1 };
      if (rows.length < page) return;
      after = rows[rows.length - 1].id;
    }
  }

  idsWithBmc(): number[] {
    return (this.sql('SELECT id FROM servers WHERE bmc_driver IS NOT NULL ORDER BY id').all() as { id: number }[]).map((r) => r.id);
  }

  /** Count free servers per configuration (DCImanager /server/configuration). */
  freeByConfiguration(): { configuration: string; free_server_count: number }[] {
    return this.sql(
        `SELECT configuration, count(*) AS free_server_count FROM servers WHERE status = 'free' AND owner_id IS NULL
         GROUP BY configuration ORDER BY configuration`,
      )
      .all() as { configuration: string; free_server_count: number }[];
  }

  /** The BMC login with its password decrypted: only for drivers, never for API output. */
  bmcTarget(id: number): BmcTarget & { driver: string } {
    const row = this.sql(
      'SELECT bmc_driver, bmc_host, bmc_port, bmc_username, bmc_password_enc, bmc_cipher_suite, bmc_privilege, bmc_scheme, bmc_legacy_tls FROM servers WHERE id = ?',
    ).get(id) as
      | Pick<ServerRow, 'bmc_driver' | 'bmc_host' | 'bmc_port' | 'bmc_username' | 'bmc_password_enc' | 'bmc_cipher_suite' | 'bmc_privilege' | 'bmc_scheme' | 'bmc_legacy_tls'>
      | undefined;
    if (!row) throw new RackhandError('NOT_FOUND', `server ${id} not found`, { id });
    if (!row.bmc_driver || !row.bmc_host || !row.bmc_username) {
      throw new RackhandError('BMC_NOT_CONFIGURED', `server ${id} has no BMC configured`, { id });
    }
    return {
      driver: row.bmc_driver,
      host: row.bmc_host,
      port: row.bmc_port ?? defaultBmcPort(row.bmc_driver as BmcDriverName, row.bmc_scheme as 'https' | 'http'),
      username: row.bmc_username,
      password: row.bmc_password_enc ? this.secrets.open(row.bmc_password_enc, bmcContext(id)) : '',
      cipherSuite: row.bmc_cipher_suite,
      privilege: row.bmc_privilege as BmcTarget['privilege'],
      ...(row.bmc_driver === 'redfish' ? { scheme: row.bmc_scheme as 'https' | 'http', legacyTls: row.bmc_legacy_tls === 1 } : {}),
    };
  }

  consoleTarget(id: number): { host: string; port: number; password?: string } {
    const row = this.sql('SELECT console_type, console_host, console_port, console_password_enc FROM servers WHERE id = ?')
      .get(id) as Pick<ServerRow, 'console_type' | 'console_host' | 'console_port' | 'console_password_enc'> | undefined;
    if (!row) throw new RackhandError('NOT_FOUND', `server ${id} not found`, { id });
    if (!row.console_host || !row.console_port) {
      throw new RackhandError('CONSOLE_ERROR', `server ${id} has no console target configured`, { id });
    }
    return {
      host: row.console_host,
      port: row.console_port,
      password: row.console_password_enc ? this.secrets.open(row.console_password_enc, consoleContext(id)) : undefined,
    };
  }

  /**
   * What the ramdisk found in the server: kept whole, and as the server's hardware components (replacing what an
   * import said: an inspection is what the server really has).
   */
  saveInspection(id: number, inventory: unknown, taskId: number | null): void {
    const now = nowIso();
    this.db.transaction(() => {
      this.sql('INSERT OR REPLACE INTO server_hardware (server_id, inventory, inspected_at, task_id) VALUES (?, ?, ?, ?)').run(id, JSON.stringify(inventory), now, taskId);
      this.sql('UPDATE servers SET hardware = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(hardwareComponents(inventory)), now, id);
    })();
  }

  /** The last inspection's full inventory, or undefined when the server was never inspected. */
  inspection(id: number): { inventory: unknown; inspectedAt: string; taskId: number | null } | undefined {
    const r = this.sql('SELECT inventory, inspected_at, task_id FROM server_hardware WHERE server_id = ?').get(id) as
      | { inventory: string; inspected_at: string; task_id: number | null }
      | undefined;
    return r && { inventory: JSON.parse(r.inventory), inspectedAt: r.inspected_at, taskId: r.task_id };
  }

  findByMac(mac: string): ServerRecord | undefined {
    const r = this.sql('SELECT server_id FROM interfaces WHERE mac = ?').get(mac) as { server_id: number } | undefined;
    return r ? this.get(r.server_id) : undefined;
  }

  findByIp(ip: string): ServerRecord | undefined {
    const r = this.sql('SELECT server_id FROM interfaces WHERE ip = ? LIMIT 1').get(ip) as { server_id: number } | undefined;
    return r ? this.get(r.server_id) : undefined;
  }

  /** The servers `SELECT … FROM servers s <rest>` finds, as rows (see serverRowOf). */
  private serverRows(rest: string, ...args: unknown[]): ServerRow[] {
    return (this.sql(`SELECT ${SERVER_SELECT} FROM servers s ${rest}`).raw(true).all(...args) as unknown[][]).map(serverRowOf);
  }

  private interfacesOf(ids: number[]): Map<number, ServerInterface[]> {
    const out = new Map<number, ServerInterface[]>();
    if (ids.length === 0) return out;
    const rows = (
      ids.length === 1
        ? this.sql('SELECT * FROM interfaces WHERE server_id = ? ORDER BY id').all(ids[0])
        : this.sql('SELECT * FROM interfaces WHERE server_id IN (SELECT value FROM json_each(?)) ORDER BY id').all(JSON.stringify(ids))
    ) as InterfaceRow[];
    for (const r of rows) {
      const list = out.get(r.server_id) ?? [];
      list.push({ id: r.id, name: r.name, mac: r.mac, ip: r.ip, switch: r.switch, switchPort: r.switch_port });
      out.set(r.server_id, list);
    }
    return out;
  }
}

function toRecord(r: ServerRow, interfaces: ServerInterface[]): ServerRecord {
  return {
    id: r.id,
    name: r.name,
    status: r.status as ServerStatus,
    type: r.type,
    location: r.location,
    locationId: r.location_id,
    datacenter: r.datacenter,
    rack: r.rack,
    rackPosition: r.rack_position,
    configuration: r.configuration,
    preset: r.preset,
    os: r.os_id !== null ? { id: r.os_id, name: r.os_name } : null,
    ownerId: r.owner_id,
    tags: JSON.parse(r.tags),
    groups: JSON.parse(r.groups),
    hardware: JSON.parse(r.hardware),
    interfaces,
    bmc: r.bmc_driver
      ? {
          driver: r.bmc_driver as BmcDriverName,
          host: r.bmc_host ?? '',
          port: r.bmc_port ?? defaultBmcPort(r.bmc_driver as BmcDriverName, r.bmc_scheme as 'https' | 'http'),
          username: r.bmc_username ?? '',
          passwordSet: r.bmc_password_enc !== null,
          model: r.bmc_model,
          mac: r.bmc_mac,
          cipherSuite: r.bmc_cipher_suite,
          privilege: r.bmc_privilege as 'administrator',
          scheme: r.bmc_scheme as 'https' | 'http',
          legacyTls: r.bmc_legacy_tls === 1,
        }
      : null,
    bootVia: r.boot_via as BootVia,
    console: r.console_host
      ? { type: 'vnc', host: r.console_host, port: r.console_port ?? 5900, passwordSet: r.console_password_enc !== null }
      : null,
    suspended: r.suspended === 1,
    billing: { recurring: r.recurring, nextDueDate: r.nextduedate, billingCycle: r.billingcycle },
    power: {
      state: r.power_state as LastPower,
      readAt: r.power_read_at,
      bmcReachable: r.bmc_reachable === null ? null : r.bmc_reachable === 1,
      bmcError: r.bmc_error,
    },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** An inspection's inventory as the flat hardware components eq show and DCImanager list (Type, Name, …). */
export function hardwareComponents(inventory: unknown): Record<string, string | number | boolean>[] {
  const inv = (inventory ?? {}) as {
    system?: { vendor?: string; model?: string; serial?: string };
    firmware?: { mode?: string; vendor?: string; version?: string };
    cpus?: { model?: string; sockets?: number; cores?: number; threads?: number };
    memoryBytes?: number;
    disks?: { name?: string; model?: string; serial?: string; sizeBytes?: number; rotational?: boolean; smart?: { healthy?: boolean | null } }[];
    nics?: { name?: string; mac?: string; driver?: string; link?: boolean; speedMbps?: number | null; lldp?: { systemName?: string; chassisId?: string; portId?: string } | null }[];
  };
  const clean = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) as Record<string, string | number | boolean>;
  const out: Record<string, string | number | boolean>[] = [];
  if (inv.system) out.push(clean({ Type: 'System', Vendor: inv.system.vendor, Name: inv.system.model, Serial: inv.system.serial, Firmware: inv.firmware?.mode }));
  if (inv.cpus) out.push(clean({ Type: 'CPU', Name: inv.cpus.model, Sockets: inv.cpus.sockets, Cores: inv.cpus.cores, Threads: inv.cpus.threads }));
  if (typeof inv.memoryBytes === 'number') out.push(clean({ Type: 'Memory', Name: `${Math.round(inv.memoryBytes / 2 ** 20)} MiB`, SizeBytes: inv.memoryBytes }));
  for (const d of inv.disks ?? []) {
    out.push(clean({ Type: 'Disk', Name: d.name, Model: d.model, Serial: d.serial, SizeBytes: d.sizeBytes, Rotational: d.rotational, Healthy: d.smart?.healthy ?? undefined }));
  }
  for (const n of inv.nics ?? []) {
    out.push(clean({ Type: 'NIC', Name: n.name, MAC: n.mac, Driver: n.driver, Link: n.link, SpeedMbps: n.speedMbps ?? undefined, Switch: n.lldp?.systemName ?? n.lldp?.chassisId, Port: n.lldp?.portId }));
  }
  return out.slice(0, 200);
}
