// /api/v1 route for a server's sensor history (the page's charts).
import { z } from 'zod';
import type { Principal } from '../auth/tokens.js';
import { intParam } from '../api/params.js';
import { idParams } from '../api/params.js';
import { route, type RouteSpec } from '../api/route-table.js';
import type { SensorHistoryRepo } from './sensor-history-repo.js';

export interface SensorRoutesDeps {
  history: SensorHistoryRepo;
  /** Throws NOT_FOUND when the caller may not see the server (InventoryService.show). */
  inventory: { show(p: Principal, id: number): unknown };
  /** Points per sensor at most (evenly thinned); 240 by default. */
  maxPoints?: number;
}

export const MAX_HISTORY_HOURS = 24 * 31;

export function sensorHistoryRoutes(d: SensorRoutesDeps): RouteSpec[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/servers/:id/sensors/history',
      summary: 'Stored sensor samples of the last `hours` (default 24), per sensor, oldest first',
      tag: 'bmc',
      params: idParams,
      query: z.object({ hours: intParam.pipe(z.number().min(1).max(MAX_HISTORY_HOURS)).optional() }).strict(),
      handler: ({ principal, params, query }) => {
        d.inventory.show(principal, params.id);
        const hours = query.hours ?? 24;
        const to = new Date();
        const from = new Date(to.getTime() - hours * 3600_000);
        return {
          server_id: params.id,
          from: from.toISOString(),
          to: to.toISOString(),
          sensors: d.history.history(params.id, { from, to, maxPoints: d.maxPoints ?? 240 }),
        };
      },
    }),
  ];
}
