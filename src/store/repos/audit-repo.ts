// The audit_log table: one row per mutating API request (who, what, from where, result), filtered reads, pruning.
import type { Db } from '../sqlite-store.js';
import { statements } from '../sqlite-store.js';

export interface AuditEntry {
  at: string;
  /** The token that made the request; null when none was valid (the request was refused). */
  tokenId: number | null;
  tokenName: string | null;
  role: string | null;
  face: string;
  method: string;
  /** The route pattern (/api/v1/servers/:id/power), never the URL with its values. */
  route: string;
  /** eq: the action named in the request. */
  action: string | null;
  serverId: number | null;
  taskId: number | null;
  remote: string;
  status: number;
  errorCode: string | null;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

export interface AuditFilter {
  serverId?: number;
  taskId?: number;
  tokenId?: number;
  /** Only failed requests (status 400 and above), or only successful ones. */
  result?: 'ok' | 'error';
  since?: string;
  until?: string;
  limit?: number;
  offset?: number;
}

interface Row {
  id: number;
  at: string;
  token_id: number | null;
  token_name: string | null;
  role: string | null;
  face: string;
  method: string;
  route: string;
  action: string | null;
  server_id: number | null;
  task_id: number | null;
  remote: string;
  status: number;
  error_code: string | null;
}

export class AuditRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(db: Db) {
    this.sql = statements(db);
  }

  append(e: AuditEntry): number {
    const r = this.sql(
      `INSERT INTO audit_log (at, token_id, token_name, role, face, method, route, action, server_id, task_id, remote, status, error_code)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(e.at, e.tokenId, e.tokenName, e.role, e.face, e.method, e.route, e.action, e.serverId, e.taskId, e.remote, e.status, e.errorCode);
    return Number(r.lastInsertRowid);
  }

  /** Newest first. */
  list(f: AuditFilter = {}): { list: AuditRecord[]; total: number } {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (f.serverId !== undefined) (where.push('server_id = @server'), (args.server = f.serverId));
    if (f.taskId !== undefined) (where.push('task_id = @task'), (args.task = f.taskId));
    if (f.tokenId !== undefined) (where.push('token_id = @token'), (args.token = f.tokenId));
    if (f.result) where.push(f.result === 'error' ? 'status >= 400' : 'status < 400');
    if (f.since) (where.push('at >= @since'), (args.since = f.since));
    if (f.until) (where.push('at <= @until'), (args.until = f.until));
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.sql(`SELECT count(*) AS n FROM audit_log ${clause}`).get(args) as { n: number }).n;
    const rows = this.sql(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT @limit OFFSET @offset`).all({
      ...args,
      limit: f.limit ?? 100,
      offset: f.offset ?? 0,
    }) as Row[];
    return { list: rows.map(toRecord), total };
  }

  /** Drops entries older than `before`, then the oldest beyond `keep`; returns how many went. */
  prune(before: string, keep: number): number {
    const old = this.sql('DELETE FROM audit_log WHERE at < ?').run(before).changes;
    const over = this.sql('DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - ?').run(keep).changes;
    return old + over;
  }

  count(): number {
    return (this.sql('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  }
}

function toRecord(r: Row): AuditRecord {
  return {
    id: r.id,
    at: r.at,
    tokenId: r.token_id,
    tokenName: r.token_name,
    role: r.role,
    face: r.face,
    method: r.method,
    route: r.route,
    action: r.action,
    serverId: r.server_id,
    taskId: r.task_id,
    remote: r.remote,
    status: r.status,
    errorCode: r.error_code,
  };
}
