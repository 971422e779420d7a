// The tasks and task_steps tables: the persistent record of every operation and its step journal.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';
import { RackhandError } from '../../errors.js';

export const TASK_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface TaskStep {
  seq: number;
  at: string;
  name: string;
  state: 'started' | 'succeeded' | 'failed' | 'note';
  message: string;
  /** What a succeeded step returned: replayed instead of run again when the task resumes after a restart. */
  result?: unknown;
}

export interface TaskRecord {
  id: number;
  kind: string;
  serverId: number | null;
  mutating: boolean;
  params: Record<string, unknown>;
  state: TaskState;
  result: unknown;
  error: { code: string; message: string } | null;
  requestedBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The signal a running task waits for (it resumes after a restart), and until when. */
  waitingFor: string | null;
  waitDeadline: string | null;
  steps: TaskStep[];
}

export interface TaskFilter {
  serverId?: number;
  serverIds?: number[]; // restrict to these (client tokens)
  state?: TaskState;
  kind?: string;
  limit?: number;
  offset?: number;
}

interface TaskRow {
  id: number;
  kind: string;
  server_id: number | null;
  mutating: number;
  params: string;
  state: TaskState;
  result: string | null;
  error_code: string | null;
  error_message: string | null;
  requested_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  waiting_for: string | null;
  wait_deadline: string | null;
}

export class TasksRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    this.sql = statements(db);
  }

  /** Insert a queued task; a second unfinished mutating task for the same server is SERVER_BUSY. */
  insert(t: { kind: string; serverId: number | null; mutating: boolean; params: Record<string, unknown>; requestedBy: string }): number {
    try {
      const r = this.sql(
          `INSERT INTO tasks (kind, server_id, mutating, params, state, requested_by, created_at)
           VALUES (?, ?, ?, ?, 'queued', ?, ?)`,
        )
        .run(t.kind, t.serverId, t.mutating ? 1 : 0, JSON.stringify(t.params), t.requestedBy, nowIso());
      return Number(r.lastInsertRowid);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        const busy = this.db
          .prepare(`SELECT id, kind FROM tasks WHERE server_id = ? AND mutating = 1 AND state IN ('queued','running')`)
          .get(t.serverId) as { id: number; kind: string } | undefined;
        throw new RackhandError('SERVER_BUSY', `server ${t.serverId} is busy with task ${busy?.id} (${busy?.kind})`, {
          server: t.serverId,
          task: busy?.id,
        });
      }
      throw e;
    }
  }

  markRunning(id: number): void {
    this.sql(`UPDATE tasks SET state = 'running', started_at = ? WHERE id = ? AND state = 'queued'`).run(nowIso(), id);
  }

  finish(id: number, state: 'succeeded' | 'failed' | 'cancelled', opts: { result?: unknown; error?: { code: string; message: string } }): void {
    this.sql(
        `UPDATE tasks SET state = ?, finished_at = ?, result = ?, error_code = ?, error_message = ?, waiting_for = NULL, wait_deadline = NULL
         WHERE id = ? AND state IN ('queued','running')`,
      )
      .run(
        state,
        nowIso(),
        opts.result === undefined ? null : JSON.stringify(opts.result),
        opts.error?.code ?? null,
        opts.error?.message ?? null,
        id,
      );
  }

  addStep(taskId: number, step: Omit<TaskStep, 'seq' | 'at'>): TaskStep {
    const seq =
      ((this.sql('SELECT max(seq) AS m FROM task_steps WHERE task_id = ?').get(taskId) as { m: number | null }).m ?? 0) + 1;
    const at = nowIso();
    const result = step.result === undefined ? null : JSON.stringify(step.result);
    this.sql('INSERT INTO task_steps (task_id, seq, at, name, state, message, result) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(taskId, seq, at, step.name, step.state, step.message, result);
    return { seq, at, ...step };
  }

  get(id: number): TaskRecord | undefined {
    const row = this.sql('SELECT * FROM tasks WHERE id = ?').get(id) as TaskRow | undefined;
    if (!row) return undefined;
    const steps = (this.sql('SELECT seq, at, name, state, message, result FROM task_steps WHERE task_id = ? ORDER BY seq').all(id) as StepRow[]).map(
      (r) => ({ seq: r.seq, at: r.at, name: r.name, state: r.state, message: r.message, ...(r.result === null ? {} : { result: JSON.parse(r.result) }) }),
    );
    return toRecord(row, steps);
  }

  /** Mark (or clear) what a running task waits for; a task marked so resumes after a restart. */
  setWaiting(id: number, signal: string | null, deadline: string | null): void {
    this.sql('UPDATE tasks SET waiting_for = ?, wait_deadline = ? WHERE id = ?').run(signal, deadline, id);
  }

  /** Store a signal for an unfinished task; false when the task has finished (nothing will read it). */
  putSignal(taskId: number, name: string, payload: unknown): boolean {
    const live = this.sql(`SELECT 1 FROM tasks WHERE id = ? AND state IN ('queued','running')`).get(taskId);
    if (!live) return false;
    this.sql('INSERT OR REPLACE INTO task_signals (task_id, name, payload, at) VALUES (?, ?, ?, ?)').run(taskId, name, JSON.stringify(payload ?? null), nowIso());
    return true;
  }

  getSignal(taskId: number, name: string): { payload: unknown; at: string } | undefined {
    const r = this.sql('SELECT payload, at FROM task_signals WHERE task_id = ? AND name = ?').get(taskId, name) as { payload: string; at: string } | undefined;
    return r && { payload: JSON.parse(r.payload), at: r.at };
  }

  list(f: TaskFilter = {}): { tasks: TaskRecord[]; total: number } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.serverId !== undefined) (where.push('server_id = ?'), args.push(f.serverId));
    if (f.serverIds) {
      if (f.serverIds.length === 0) return { tasks: [], total: 0 };
      where.push(`server_id IN (SELECT value FROM json_each(?))`);
      args.push(JSON.stringify(f.serverIds));
    }
    if (f.state) (where.push('state = ?'), args.push(f.state));
    if (f.kind) (where.push('kind = ?'), args.push(f.kind));
    const clause = where.length ? 'WHERE ' + where.join(' AND ') : '';
    const total = (this.sql(`SELECT count(*) AS n FROM tasks ${clause}`).get(...args) as { n: number }).n;
    const rows = this.sql(`SELECT * FROM tasks ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`)
      .all(...args, f.limit ?? 100, f.offset ?? 0) as TaskRow[];
    return { tasks: rows.map((r) => toRecord(r, [])), total };
  }

  unfinished(): TaskRecord[] {
    return (this.sql(`SELECT * FROM tasks WHERE state IN ('queued','running') ORDER BY id`).all() as TaskRow[]).map((r) =>
      toRecord(r, []),
    );
  }

  /** Unfinished tasks of one kind for these servers, newest first (no steps, no count: a hot path). */
  unfinishedOf(kind: string, serverIds: number[]): TaskRecord[] {
    const rows = (
      serverIds.length === 1
        ? this.sql(`SELECT * FROM tasks WHERE server_id = ? AND state IN ('queued','running') AND kind = ? ORDER BY id DESC`).all(serverIds[0], kind)
        : this.sql(`SELECT * FROM tasks WHERE state IN ('queued','running') AND kind = ? AND server_id IN (SELECT value FROM json_each(?)) ORDER BY id DESC`).all(
            kind,
            JSON.stringify(serverIds),
          )
    ) as TaskRow[];
    return rows.map((r) => toRecord(r, []));
  }


  countsByKindAndState(): { kind: string; state: string; count: number }[] {
    return this.sql('SELECT kind, state, count(*) AS count FROM tasks GROUP BY kind, state').all() as { kind: string; state: string; count: number }[];
  }

  pruneFinishedBefore(iso: string): number {
    return this.sql(`DELETE FROM tasks WHERE state NOT IN ('queued','running') AND finished_at < ?`).run(iso).changes;
  }
}

interface StepRow {
  seq: number;
  at: string;
  name: string;
  state: TaskStep['state'];
  message: string;
  result: string | null;
}

function toRecord(r: TaskRow, steps: TaskStep[]): TaskRecord {
  return {
    id: r.id,
    kind: r.kind,
    serverId: r.server_id,
    mutating: r.mutating === 1,
    params: JSON.parse(r.params),
    state: r.state,
    result: r.result === null ? null : JSON.parse(r.result),
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    requestedBy: r.requested_by,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    waitingFor: r.waiting_for,
    waitDeadline: r.wait_deadline,
    steps,
  };
}
