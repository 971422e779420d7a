// /api/v1 routes for BMC operations; each mutating one answers 202 with the task.
import { z } from 'zod';
import type { BmcOperations } from '../../core/bmc-operations.js';
import type { PowerSync } from '../../bmc/power-sync.js';
import { can } from '../../auth/tokens.js';
import { assertAllowed } from '../../core/access.js';
import { idParams } from '../params.js';
import { route, type RouteSpec } from '../route-table.js';

export function v1BmcRoutes(ops: BmcOperations, sync: PowerSync): RouteSpec[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/power-sync',
      summary: 'Read every BMC\'s power state now (the periodic sync, on demand)',
      tag: 'bmc',
      handler: ({ principal }) => {
        assertAllowed(can.seeAllServers(principal), 'sync the whole site');
        return sync.syncOnce();
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/servers/:id/power',
      summary: 'Power on / off / soft / reset / cycle / reboot, verified by reading the state back',
      tag: 'bmc',
      params: idParams,
      body: z.object({ action: z.enum(['on', 'off', 'soft', 'reset', 'cycle', 'reboot']) }).strict(),
      status: 202,
      handler: ({ principal, params, body }) => ops.power(principal, params.id, body.action),
    }),
    route({
      method: 'POST',
      url: '/api/v1/servers/:id/boot-device',
      summary: 'Set the boot device (raw Set System Boot Options), read back',
      tag: 'bmc',
      params: idParams,
      body: z
        .object({
          device: z.enum(['pxe', 'disk', 'cdrom', 'bios', 'none']),
          mode: z.enum(['uefi', 'legacy', 'auto']).default('auto'),
          persistent: z.boolean().default(false),
        })
        .strict(),
      status: 202,
      handler: ({ principal, params, body }) => ops.bootDevice(principal, params.id, body),
    }),
    route({
      method: 'GET',
      url: '/api/v1/servers/:id/sensors',
      summary: 'Read every sensor now (a read-only task; waits for it)',
      tag: 'bmc',
      params: idParams,
      handler: async ({ principal, params }) => {
        const r = await ops.sensors(principal, params.id);
        return { task: r.task.id, read_at: r.task.finishedAt, sensors: r.sensors };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/servers/:id/bmc/users',
      summary: 'Add a BMC user; without name/password random ones are made and returned once',
      tag: 'bmc',
      params: idParams,
      body: z
        .object({
          name: z.string().regex(/^[A-Za-z0-9._-]{1,16}$/).optional(),
          password: z.string().min(8).max(20).optional(),
          privilege: z.enum(['user', 'operator', 'administrator']).optional(),
        })
        .strict()
        .refine((b) => b.password === undefined || b.name !== undefined, { message: 'password needs name', path: ['password'] }),
      status: 202,
      handler: ({ principal, params, body }) => {
        const r = ops.addUser(principal, params.id, body);
        return { task: r.task, username: r.username, password: r.password };
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/servers/:id/bmc/users/:name',
      summary: 'Remove a BMC user (never the one rackhand logs in with)',
      tag: 'bmc',
      params: z.object({ id: idParams.shape.id, name: z.string().min(1).max(16) }).strict(),
      status: 202,
      handler: ({ principal, params }) => ops.removeUser(principal, params.id, params.name),
    }),
    route({
      method: 'POST',
      url: '/api/v1/servers/:id/bmc/reset',
      summary: 'Cold or warm reset of the BMC, then wait until it answers',
      tag: 'bmc',
      params: idParams,
      body: z.object({ kind: z.enum(['cold', 'warm']).default('cold') }).strict(),
      status: 202,
      handler: ({ principal, params, body }) => ops.resetBmc(principal, params.id, body.kind),
    }),
  ];
}
