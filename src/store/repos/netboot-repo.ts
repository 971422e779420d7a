// The netboot table: which hosts have a network boot armed, for what, and their installer callback token.
import { randomBytes } from 'node:crypto';
import { hashToken } from '../../auth/tokens.js';
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';
import type { SecretBox } from '../secret-box.js';

export type NetbootPurpose = 'install' | 'diag' | 'wipe' | 'rescue';

export interface NetbootState {
  serverId: number;
  purpose: NetbootPurpose;
  osId: string;
  params: Record<string, unknown>;
  /** The installer's callback token in clear, for rendering this host's scripts. */
  token: string;
  taskId: number | null;
  armedAt: string;
  callbackAt: string | null;
  callbackStatus: string | null;
}

interface Row {
  server_id: number;
  purpose: NetbootPurpose;
  os_id: string;
  params: string;
  token_sealed: string;
  task_id: number | null;
  armed_at: string;
  callback_at: string | null;
  callback_status: string | null;
}

const context = (serverId: number) => `netboot:${serverId}`;

export class NetbootRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(
    db: Db,
    private readonly secrets: SecretBox,
  ) {
    this.sql = statements(db);
  }

  /** Arm (or re-arm) a host; a fresh single-use callback token replaces any earlier one. */
  arm(a: { serverId: number; purpose: NetbootPurpose; osId: string; params: Record<string, unknown>; taskId: number | null }): NetbootState {
    const token = randomBytes(24).toString('base64url');
    this.sql(
      `INSERT INTO netboot (server_id, purpose, os_id, params, token_sealed, token_hash, task_id, armed_at)
       VALUES (@server_id, @purpose, @os_id, @params, @token_sealed, @token_hash, @task_id, @armed_at)
       ON CONFLICT(server_id) DO UPDATE SET purpose=excluded.purpose, os_id=excluded.os_id, params=excluded.params,
         token_sealed=excluded.token_sealed, token_hash=excluded.token_hash, task_id=excluded.task_id,
         armed_at=excluded.armed_at, callback_at=NULL, callback_status=NULL`,
    ).run({
      server_id: a.serverId,
      purpose: a.purpose,
      os_id: a.osId,
      params: JSON.stringify(a.params),
      token_sealed: this.secrets.seal(token, context(a.serverId)),
      token_hash: hashToken(token),
      task_id: a.taskId,
      armed_at: nowIso(),
    });
    return this.get(a.serverId)!;
  }

  get(serverId: number): NetbootState | undefined {
    const r = this.sql('SELECT * FROM netboot WHERE server_id = ?').get(serverId) as Row | undefined;
    return r ? this.toState(r) : undefined;
  }

  /** Disarm: the host boots from disk from now on. Returns whether anything was armed. */
  disarm(serverId: number): boolean {
    return this.sql('DELETE FROM netboot WHERE server_id = ?').run(serverId).changes > 0;
  }

  /**
   * Consume the callback token: the first call with a valid, unused token records the status and returns the
   * state; any later call (or an unknown token) returns undefined.
   */
  consumeCallback(token: string, status: string): NetbootState | undefined {
    const r = this.sql(
      `UPDATE netboot SET callback_at = ?, callback_status = ? WHERE token_hash = ? AND callback_at IS NULL RETURNING *`,
    ).get(nowIso(), status, hashToken(token)) as Row | undefined;
    return r ? this.toState(r) : undefined;
  }

  /** Look up an armed host by its token without consuming it (install configs fetched by the installer). */
  findByToken(token: string): NetbootState | undefined {
    const r = this.sql('SELECT * FROM netboot WHERE token_hash = ?').get(hashToken(token)) as Row | undefined;
    return r ? this.toState(r) : undefined;
  }

  all(): NetbootState[] {
    return (this.sql('SELECT * FROM netboot ORDER BY server_id').all() as Row[]).map((r) => this.toState(r));
  }

  private toState(r: Row): NetbootState {
    return {
      serverId: r.server_id,
      purpose: r.purpose,
      osId: r.os_id,
      params: JSON.parse(r.params),
      token: this.secrets.open(r.token_sealed, context(r.server_id)),
      taskId: r.task_id,
      armedAt: r.armed_at,
      callbackAt: r.callback_at,
      callbackStatus: r.callback_status,
    };
  }
}
