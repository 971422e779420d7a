// The task capability as callers see it: list, show and cancel the tasks of servers the caller may see.
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { TaskFilter, TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { can, canSeeServer } from './access.js';

/**
 * A read-only task a caller waits for (sensors, the event log): its result once it succeeded; BMC_TIMEOUT naming the
 * task when it runs longer than waitMs, or the task's own error.
 */
export async function readTaskResult<T>(runner: Pick<TaskRunner, 'wait'>, task: TaskRecord, waitMs: number, what: string): Promise<{ task: TaskRecord; result: T }> {
  const done = await Promise.race([runner.wait(task.id), new Promise<undefined>((r) => void setTimeout(() => r(undefined), waitMs).unref())]);
  if (!done) throw new RackhandError('BMC_TIMEOUT', `${what} still running after ${waitMs} ms; see task ${task.id}`, { task: task.id });
  if (done.state !== 'succeeded') throw new RackhandError((done.error?.code as 'BMC_ERROR') ?? 'BMC_ERROR', done.error?.message ?? `${what} failed`, { task: task.id });
  return { task: done, result: done.result as T };
}

export class Tasks {
  constructor(
    private readonly runner: TaskRunner,
    private readonly servers: ServersRepo,
  ) {}

  /** Task and step events as they happen (filter them with canSee and view before showing them). */
  get events() {
    return this.runner.events;
  }

  list(p: Principal, filter: Omit<TaskFilter, 'serverIds'>): { tasks: TaskRecord[]; total: number } {
    const serverIds = can.seeAllServers(p) ? undefined : this.servers.list({ ownerId: p.ownerId ?? -1 }).servers.map((s) => s.id);
    const r = this.runner.list({ ...filter, serverIds });
    return { tasks: r.tasks.map((t) => this.view(p, t)), total: r.total };
  }

  show(p: Principal, id: number): TaskRecord {
    return this.view(p, this.visible(p, id));
  }

  cancel(p: Principal, id: number): TaskRecord {
    this.visible(p, id);
    return this.view(p, this.runner.cancel(id));
  }

  /** May this caller see tasks of this server (null: tasks tied to no server, staff only)? */
  canSee(p: Principal, serverId: number | null): boolean {
    if (can.seeAllServers(p)) return true;
    return serverId !== null && canSeeServer(p, this.servers.get(serverId));
  }

  private visible(p: Principal, id: number): TaskRecord {
    const t = this.runner.get(id);
    if (!t || !this.canSee(p, t.serverId)) throw new RackhandError('NOT_FOUND', `task ${id} not found`, { id });
    return t;
  }

  /** Clients see who asked only when it was their own token; staff names stay with staff. */
  view(p: Principal, t: TaskRecord): TaskRecord {
    if (can.seeAllServers(p) || t.requestedBy.endsWith(`#${p.tokenId}`)) return t;
    return { ...t, requestedBy: 'staff' };
  }
}
