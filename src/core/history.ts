// The sensor-history capability: a server's stored samples for charts.
import { z } from 'zod';
import type { Principal } from '../auth/tokens.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { SensorHistoryRepo, SensorSeries } from '../store/repos/sensor-history-repo.js';
import { requireVisibleServer } from './access.js';

export const MAX_HISTORY_HOURS = 24 * 31;
export const historyHoursSchema = z.number().int().min(1).max(MAX_HISTORY_HOURS);

export class SensorHistory {
  constructor(
    private readonly servers: ServersRepo,
    private readonly history: SensorHistoryRepo,
    /** Points per sensor at most (evenly thinned). */
    private readonly maxPoints = 240,
  ) {}

  /** Samples of the last `hours`, per sensor, oldest first. */
  read(p: Principal, serverId: number, hours = 24): { server_id: number; from: string; to: string; sensors: SensorSeries[] } {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    const to = new Date();
    const from = new Date(to.getTime() - hours * 3600_000);
    return { server_id: serverId, from: from.toISOString(), to: to.toISOString(), sensors: this.history.history(serverId, { from, to, maxPoints: this.maxPoints }) };
  }
}
