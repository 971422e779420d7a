// The switches table (credentials sealed with SecretBox) and the switch ports of servers.
import { RackhandError } from '../../errors.js';
import type { SecretBox } from '../secret-box.js';
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';
import type { SnmpTarget } from '../../switch/snmp-session.js';

export interface SwitchInput {
  name: string;
  host: string;
  port: number;
  version: 'v2c' | 'v3';
  /** Write-only secrets: undefined keeps the stored one. */
  community?: string;
  v3User?: string;
  authKey?: string;
  privKey?: string;
  note?: string;
}

/** What any read returns: secrets only as set / not set. */
export interface SwitchInfo {
  id: number;
  name: string;
  host: string;
  port: number;
  version: 'v2c' | 'v3';
  communitySet: boolean;
  v3User: string | null;
  authKeySet: boolean;
  privKeySet: boolean;
  note: string;
  createdAt: string;
  updatedAt: string;
}

export interface ServerPort {
  interfaceId: number;
  interfaceName: string;
  switchName: string;
  port: string;
}

interface SwitchRow {
  id: number;
  name: string;
  host: string;
  port: number;
  snmp_version: 'v2c' | 'v3';
  community_enc: string | null;
  v3_user: string | null;
  v3_auth_key_enc: string | null;
  v3_priv_key_enc: string | null;
  note: string;
  created_at: string;
  updated_at: string;
}

const ctx = (name: string, what: 'community' | 'auth' | 'priv') => `switch:${name}:${what}`;

export class SwitchesRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {
    this.sql = statements(db);
  }

  /** Insert or update by name; the result must have the credentials its SNMP version needs. */
  upsert(s: SwitchInput): { info: SwitchInfo; created: boolean } {
    return this.db.transaction(() => {
      const prev = this.row(s.name);
      const seal = (v: string | undefined, what: 'community' | 'auth' | 'priv', old: string | null | undefined) =>
        v !== undefined ? this.secrets.seal(v, ctx(s.name, what)) : (old ?? null);
      const row = {
        name: s.name,
        host: s.host,
        port: s.port,
        snmp_version: s.version,
        community_enc: seal(s.community, 'community', prev?.community_enc),
        v3_user: s.v3User ?? prev?.v3_user ?? null,
        v3_auth_key_enc: seal(s.authKey, 'auth', prev?.v3_auth_key_enc),
        v3_priv_key_enc: seal(s.privKey, 'priv', prev?.v3_priv_key_enc),
        note: s.note ?? prev?.note ?? '',
        now: nowIso(),
      };
      if (row.snmp_version === 'v2c' && !row.community_enc) {
        throw new RackhandError('INVALID_INPUT', 'community: required for SNMP v2c', { field: 'community' });
      }
      if (row.snmp_version === 'v3') {
        for (const [field, v] of [['user', row.v3_user], ['auth_key', row.v3_auth_key_enc], ['priv_key', row.v3_priv_key_enc]] as const) {
          if (!v) throw new RackhandError('INVALID_INPUT', `${field}: required for SNMP v3 (authPriv)`, { field });
        }
      }
      this.sql(
        `INSERT INTO switches (name, host, port, snmp_version, community_enc, v3_user, v3_auth_key_enc, v3_priv_key_enc, note, created_at, updated_at)
         VALUES (@name, @host, @port, @snmp_version, @community_enc, @v3_user, @v3_auth_key_enc, @v3_priv_key_enc, @note, @now, @now)
         ON CONFLICT(name) DO UPDATE SET host = excluded.host, port = excluded.port, snmp_version = excluded.snmp_version,
           community_enc = excluded.community_enc, v3_user = excluded.v3_user, v3_auth_key_enc = excluded.v3_auth_key_enc,
           v3_priv_key_enc = excluded.v3_priv_key_enc, note = excluded.note, updated_at = excluded.updated_at`,
      ).run(row);
      return { info: toInfo(this.row(s.name)!), created: !prev };
    })();
  }

  list(): SwitchInfo[] {
    return (this.sql('SELECT * FROM switches ORDER BY name').all() as SwitchRow[]).map(toInfo);
  }

  get(name: string): SwitchInfo | undefined {
    const r = this.row(name);
    return r && toInfo(r);
  }

  delete(name: string): boolean {
    return this.sql('DELETE FROM switches WHERE name = ?').run(name).changes > 0;
  }

  /** Address and decrypted credentials: only for the SNMP client, never for API output. */
  target(name: string): SnmpTarget | undefined {
    const r = this.row(name);
    if (!r) return undefined;
    if (r.snmp_version === 'v3') {
      return {
        host: r.host,
        port: r.port,
        version: 'v3',
        user: {
          name: r.v3_user ?? '',
          authKey: r.v3_auth_key_enc ? this.secrets.open(r.v3_auth_key_enc, ctx(r.name, 'auth')) : '',
          privKey: r.v3_priv_key_enc ? this.secrets.open(r.v3_priv_key_enc, ctx(r.name, 'priv')) : '',
        },
      };
    }
    return { host: r.host, port: r.port, version: 'v2c', community: r.community_enc ? this.secrets.open(r.community_enc, ctx(r.name, 'community')) : undefined };
  }

  /** The server's interfaces that name a switch and a port, in interface order. */
  serverPorts(serverId: number): ServerPort[] {
    return (
      this.sql(
        `SELECT id, name, switch, switch_port FROM interfaces
         WHERE server_id = ? AND switch IS NOT NULL AND switch <> '' AND switch_port IS NOT NULL AND switch_port <> '' ORDER BY id`,
      ).all(serverId) as { id: number; name: string; switch: string; switch_port: string }[]
    ).map((r) => ({ interfaceId: r.id, interfaceName: r.name, switchName: r.switch, port: r.switch_port }));
  }

  serverExists(serverId: number): boolean {
    return this.sql('SELECT 1 FROM servers WHERE id = ?').get(serverId) !== undefined;
  }

  private row(name: string): SwitchRow | undefined {
    return this.sql('SELECT * FROM switches WHERE name = ?').get(name) as SwitchRow | undefined;
  }
}

function toInfo(r: SwitchRow): SwitchInfo {
  return {
    id: r.id,
    name: r.name,
    host: r.host,
    port: r.port,
    version: r.snmp_version,
    communitySet: r.community_enc !== null,
    v3User: r.v3_user,
    authKeySet: r.v3_auth_key_enc !== null,
    privKeySet: r.v3_priv_key_enc !== null,
    note: r.note,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
