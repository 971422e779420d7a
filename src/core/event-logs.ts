// The BMC event log capability: read a server's log now (a read-only task, waited for), clear it (admin and tech
// tokens), and count the critical entries rackhand sees appear, whoever read them (the page, the API, the sampler).
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import type { BmcEventLogEntry } from '../bmc/bmc-driver.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { EventLogRepo } from '../store/repos/event-log-repo.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';
import { readTaskResult } from './tasks.js';

export class EventLogs {
  constructor(
    private readonly servers: ServersRepo,
    private readonly seen: EventLogRepo,
    private readonly tasks: TaskRunner,
    /** How long a caller waits for the read (bmc.sensorsWaitMs). */
    private readonly waitMs: number,
  ) {}

  async read(p: Principal, serverId: number): Promise<{ task: TaskRecord; entries: BmcEventLogEntry[] }> {
    this.withBmc(p, serverId);
    const t = this.tasks.submit('event_log', { serverId, params: {}, requestedBy: describePrincipal(p) });
    const { task, result: entries } = await readTaskResult<BmcEventLogEntry[]>(this.tasks, t, this.waitMs, 'event log read');
    this.observe(serverId, entries);
    return { task, entries };
  }

  clear(p: Principal, serverId: number): TaskRecord {
    requireAllowed(can.clearEventLog(p), "clear a BMC's event log");
    this.withBmc(p, serverId);
    return this.tasks.submit('event_log_clear', { serverId, params: {}, requestedBy: describePrincipal(p) });
  }

  /** A read from anywhere (the API, the periodic sampler): its new critical entries are counted once. */
  observe(serverId: number, entries: BmcEventLogEntry[]): { newCritical: number } {
    return this.seen.record(serverId, entries);
  }

  private withBmc(p: Principal, serverId: number): void {
    const s = requireVisibleServer(p, this.servers.get(serverId), serverId);
    if (!s.bmc) throw new RackhandError('BMC_NOT_CONFIGURED', `server ${serverId} has no BMC configured`, { id: serverId });
  }
}
