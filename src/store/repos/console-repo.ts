// The console_sessions and console_tickets tables: who opened which console, from where, and its audit trail.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';

export interface ConsoleSessionRecord {
  id: number;
  serverId: number;
  openedBy: string;
  whiteIp: string | null;
  createdAt: string;
  expiresAt: string;
  endedAt: string | null;
  endReason: string | null;
  connections: number;
  bytesUp: number;
  bytesDown: number;
  lastRemote: string | null;
}

interface Row {
  id: number;
  server_id: number;
  opened_by: string;
  white_ip: string | null;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
  end_reason: string | null;
  connections: number;
  bytes_up: number;
  bytes_down: number;
  last_remote: string | null;
}

const toRecord = (r: Row): ConsoleSessionRecord => ({
  id: r.id,
  serverId: r.server_id,
  openedBy: r.opened_by,
  whiteIp: r.white_ip,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  endedAt: r.ended_at,
  endReason: r.end_reason,
  connections: r.connections,
  bytesUp: r.bytes_up,
  bytesDown: r.bytes_down,
  lastRemote: r.last_remote,
});

export class ConsoleRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  createSession(s: { keyHash: string; serverId: number; openedBy: string; whiteIp: string | null; expiresAt: string }): number {
    return Number(
      this.sql(
        'INSERT INTO console_sessions (key_hash, server_id, opened_by, white_ip, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(s.keyHash, s.serverId, s.openedBy, s.whiteIp, nowIso(), s.expiresAt).lastInsertRowid,
    );
  }

  /** A live session by its key hash: not ended and not past its lifetime. */
  liveSessionByKey(keyHash: string): ConsoleSessionRecord | undefined {
    const r = this.sql('SELECT * FROM console_sessions WHERE key_hash = ? AND ended_at IS NULL AND expires_at > ?').get(keyHash, nowIso()) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  liveSessionsOfServer(serverId: number): ConsoleSessionRecord[] {
    return (this.sql('SELECT * FROM console_sessions WHERE server_id = ? AND ended_at IS NULL ORDER BY id').all(serverId) as Row[]).map(toRecord);
  }

  sessionsOfServer(serverId: number, limit = 50): ConsoleSessionRecord[] {
    return (this.sql('SELECT * FROM console_sessions WHERE server_id = ? ORDER BY id DESC LIMIT ?').all(serverId, limit) as Row[]).map(toRecord);
  }

  endSession(id: number, reason: string): void {
    this.sql('UPDATE console_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(nowIso(), reason, id);
    this.sql('DELETE FROM console_tickets WHERE session_id = ? AND used_at IS NULL').run(id);
  }

  addTicket(hash: string, sessionId: number, expiresAt: string): void {
    this.sql('INSERT INTO console_tickets (hash, session_id, expires_at) VALUES (?, ?, ?)').run(hash, sessionId, expiresAt);
  }

  /** Consume a ticket: only the first call with an unexpired, unused ticket of a live session succeeds. */
  consumeTicket(hash: string): ConsoleSessionRecord | undefined {
    const now = nowIso();
    return this.db.transaction(() => {
      const t = this.sql(
        `UPDATE console_tickets SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING session_id`,
      ).get(now, hash, now) as { session_id: number } | undefined;
      if (!t) return undefined;
      const r = this.sql('SELECT * FROM console_sessions WHERE id = ? AND ended_at IS NULL AND expires_at > ?').get(t.session_id, now) as Row | undefined;
      return r ? toRecord(r) : undefined;
    })();
  }

  recordConnection(sessionId: number, c: { bytesUp: number; bytesDown: number; remote: string }): void {
    this.sql(
      'UPDATE console_sessions SET connections = connections + 1, bytes_up = bytes_up + ?, bytes_down = bytes_down + ?, last_remote = ? WHERE id = ?',
    ).run(c.bytesUp, c.bytesDown, c.remote, sessionId);
  }

  /** Sessions past their lifetime are ended with reason "expired". */
  expireSessions(): number[] {
    const now = nowIso();
    const ids = (this.sql('SELECT id FROM console_sessions WHERE ended_at IS NULL AND expires_at <= ?').all(now) as { id: number }[]).map((r) => r.id);
    for (const id of ids) this.endSession(id, 'expired');
    this.sql('DELETE FROM console_tickets WHERE used_at IS NULL AND expires_at <= ?').run(now);
    return ids;
  }
}
