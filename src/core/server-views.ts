// What central control sees of a server: its inventory record, every address it holds (interfaces and IPAM,
// typed public or private) and the install in progress — eq show / list / update_servers, DCImanager's servers.
import type { Principal } from '../auth/tokens.js';
import type { ServerFilter, ServerRecord } from '../domain/server.js';
import type { TaskRecord, TaskState, TasksRepo } from '../store/repos/tasks-repo.js';
import type { Ipam, ServerIp } from './ipam.js';
import type { Netboot } from './netboot.js';
import type { Page, Paged } from './page.js';
import type { Servers } from './servers.js';
import type { UsersRepo } from '../store/repos/users-repo.js';

/** A deploy not yet finished, or a host create_pxe armed whose installer has not reported yet. */
export interface DeployInProgress {
  task: number;
  kind: 'deploy' | 'create_pxe';
  purpose: string;
  osId: string;
  /** The deploy task's state; `armed` for a create_pxe host waiting for its installer. */
  state: Extract<TaskState, 'queued' | 'running'> | 'armed';
  /** What a running deploy waits for (the installer's report), if anything. */
  waitingFor: string | null;
  startedAt: string | null;
  /** The reinstall_key the caller gave with the request; the task id when it gave none. */
  key: string;
}

export interface ServerView {
  server: ServerRecord;
  ips: ServerIp[];
  deploy: DeployInProgress | null;
  /** The owning user's email, for the DCImanager face ('' if the user is gone). */
  owner: { id: number; email: string } | null;
}

export class ServerViews {
  constructor(
    private readonly servers: Servers,
    private readonly ipam: Ipam,
    private readonly netboot: Netboot,
    private readonly tasks: TasksRepo,
    private readonly users: UsersRepo,
  ) {}

  show(p: Principal, id: number): ServerView {
    return this.views([this.servers.show(p, id)])[0];
  }

  list(p: Principal, filter: ServerFilter, page: Page): Paged<ServerView> {
    const { servers, total } = this.servers.list(p, { ...filter, ...page });
    return { list: this.views(servers), total };
  }

  /**
   * eq update_servers: the servers billed to this token. A token with an owner gets that owner's servers; a
   * token without one (admin, central, tech) gets every server that has an owner — never the free pool.
   */
  billed(p: Principal, page: Page): Paged<ServerView> {
    return this.list(p, p.ownerId !== null ? { ownerId: p.ownerId } : { owned: true }, page);
  }

  private views(servers: ServerRecord[]): ServerView[] {
    const ips = this.ipam.serverIps(servers);
    const deploys = this.deploys(servers.map((s) => s.id));
    const emails = new Map<number, string>();
    for (const id of new Set(servers.map((s) => s.ownerId).filter((o): o is number => o !== null))) emails.set(id, this.users.get(id)?.email ?? '');
    return servers.map((s) => ({
      server: s,
      ips: ips.get(s.id) ?? [],
      deploy: deploys.get(s.id) ?? null,
      owner: s.ownerId === null ? null : { id: s.ownerId, email: emails.get(s.ownerId) ?? '' },
    }));
  }

  private deploys(ids: number[]): Map<number, DeployInProgress> {
    const out = new Map<number, DeployInProgress>();
    if (ids.length === 0) return out;
    for (const t of this.tasks.unfinishedOf('deploy', ids)) {
      if (t.serverId !== null && !out.has(t.serverId)) out.set(t.serverId, inProgress(t, 'deploy', t.state === 'queued' ? 'queued' : 'running'));
    }
    for (const id of ids) {
      if (out.has(id)) continue;
      const nb = this.netboot.state(id);
      if (!nb || nb.callbackAt || nb.taskId === null) continue;
      const t = this.tasks.get(nb.taskId);
      if (t?.kind === 'create_pxe') out.set(id, inProgress(t, 'create_pxe', 'armed'));
    }
    return out;
  }
}

function inProgress(t: TaskRecord, kind: DeployInProgress['kind'], state: DeployInProgress['state']): DeployInProgress {
  const params = t.params as { purpose?: string; os_id?: string; extra?: { reinstall_key?: unknown } };
  const key = params.extra?.reinstall_key;
  return {
    task: t.id,
    kind,
    purpose: params.purpose ?? 'install',
    osId: params.os_id ?? '',
    state,
    waitingFor: t.waitingFor,
    startedAt: t.startedAt,
    key: typeof key === 'string' && key !== '' ? key : String(t.id),
  };
}
