// Install faces: eq create_pxe / clear_pxe / reinstall / order_instance, DCImanager operation_os / _diag /
// _clear_hdd, and the /api/v1 netboot, OS and discovered-host routes.
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { can, type Principal } from '../auth/tokens.js';
import type { NetbootOperations } from '../core/netboot-operations.js';
import type { InventoryService } from '../core/inventory-service.js';
import type { NetbootService } from '../boot/netboot-service.js';
import type { DiscoveredRepo } from '../store/repos/discovered-repo.js';
import { macSchema } from '../inventory/server-schema.js';
import { assertAllowed } from '../core/access.js';
import { parseInput } from '../core/validate.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { EqHandlers } from './eq/eq-routes.js';
import type { DciOperationName, DciServerOperation } from './dci/dci-routes.js';
import { idParams, intParam } from './params.js';
import { route, type RouteSpec } from './route-table.js';

const taskReply = (t: TaskRecord) => ({ id: t.serverId, task: t.id, state: t.state });

export function eqNetbootHandlers(ops: NetbootOperations): Partial<EqHandlers> {
  return {
    create_pxe: (p, x) => taskReply(ops.createPxe(p, x.id, x)),
    clear_pxe: (p, x) => taskReply(ops.clearPxe(p, x.id)),
    reinstall: (p, x) => taskReply(ops.reinstall(p, x.id, x)),
    order_instance: (p, x) => {
      const r = ops.orderInstance(p, x);
      return { id: r.serverId, task: r.task.id, state: r.task.state };
    },
  };
}

const dciOsBody = z
  .object({
    os_template_id: intParam,
    password: z.string().min(1).max(256),
    ssh_pub_keys: z.array(z.string().max(16384)).max(32).optional(),
    hdd_raid: z.string().max(16).optional(),
    hostname: z.string().max(253).optional(),
    uefi: z.boolean().optional(),
  })
  .strict();
const dciDiagBody = z
  .object({
    setup_ipmi: z.boolean().optional(),
    ipmi_pool: intParam.optional(),
    os_template_id: intParam.optional(),
    clear_hdd: z.string().max(32).optional(),
  })
  .strict();
const dciClearBody = z.object({ clear_hdd: z.enum(['none', 'fast', 'zero', 'random', 'secure-erase']) }).strict();

export function dciNetbootOperations(ops: NetbootOperations): Partial<Record<DciOperationName, DciServerOperation>> {
  return {
    operation_os: (p: Principal, id: number, body) => {
      const b = parseInput(dciOsBody, body);
      const raid = b.hdd_raid?.replace(/^raid/i, '');
      return {
        task: ops.reinstall(p, id, {
          os_id: b.os_template_id,
          root_pass: b.password,
          ssh_key: b.ssh_pub_keys?.join('\n'),
          disk_mirror: raid === '1' || raid === '10' ? Number(raid) : undefined,
          hostname: b.hostname,
          uefi: b.uefi,
        }).id,
      };
    },
    operation_diag: (p, id, body) => ({ task: ops.diagnostics(p, id, parseInput(dciDiagBody, body).os_template_id).id }),
    operation_clear_hdd: (p, id, body) => {
      const b = parseInput(dciClearBody, body);
      if (b.clear_hdd === 'none') throw new RackhandError('INVALID_INPUT', 'clear_hdd: "none" wipes nothing', { field: 'clear_hdd' });
      return { task: ops.wipe(p, id, b.clear_hdd).id };
    },
  };
}

/** What the API shows of a host's netboot state (never its callback token). */
export function netbootView(netboot: NetbootService, serverId: number) {
  const nb = netboot.state(serverId);
  return nb
    ? { armed: !nb.callbackAt, purpose: nb.purpose, osId: nb.osId, armedAt: nb.armedAt, callbackAt: nb.callbackAt, task: nb.taskId }
    : { armed: false };
}

export function v1NetbootRoutes(d: {
  ops: NetbootOperations;
  netboot: NetbootService;
  inventory: InventoryService;
  discovered: DiscoveredRepo;
}): RouteSpec[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/os',
      summary: 'The OS catalogue (os_id numbers the eq API takes)',
      tag: 'netboot',
      handler: () => ({ list: d.ops.osList() }),
    }),
    route({
      method: 'GET',
      url: '/api/v1/servers/:id/netboot',
      summary: 'Netboot state of a server (armed false: it boots from disk)',
      tag: 'netboot',
      params: idParams,
      handler: ({ principal, params }) => {
        d.inventory.show(principal, params.id);
        return netbootView(d.netboot, params.id);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/servers/:id/reinstall',
      summary: 'Reinstall: arm netboot, PXE, power, wait for the installer, disarm, boot from disk',
      tag: 'netboot',
      params: idParams,
      body: z
        .object({
          os_id: z.union([intParam, z.string().max(64)]),
          root_pass: z.string().min(8).max(256),
          hostname: z.string().max(253).optional(),
          ssh_key: z.string().max(16384).optional(),
          uefi: z.boolean().optional(),
          disk_mirror: z.union([z.literal(0), z.literal(1), z.literal(10)]).optional(),
          post_install_callback: z.string().url().max(2048).optional(),
        })
        .strict(),
      status: 202,
      handler: ({ principal, params, body }) => d.ops.reinstall(principal, params.id, body),
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/servers/:id/netboot',
      summary: 'Disarm netboot (clear_pxe)',
      tag: 'netboot',
      params: idParams,
      status: 202,
      handler: ({ principal, params }) => d.ops.clearPxe(principal, params.id),
    }),
    route({
      method: 'GET',
      url: '/api/v1/discovered',
      summary: 'MACs that asked to network-boot but are not in the inventory',
      tag: 'netboot',
      query: z.object({ limit: intParam.pipe(z.number().min(1).max(1000)).optional(), offset: intParam.optional() }).strict(),
      handler: ({ principal, query }) => {
        assertAllowed(can.seeAllServers(principal), 'see discovered hosts');
        const limit = query.limit ?? 100;
        const offset = query.offset ?? 0;
        return { ...d.discovered.list({ limit, offset }), limit, offset };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/discovered/:mac/adopt',
      summary: 'Adopt a discovered MAC into the inventory as a new server',
      tag: 'netboot',
      params: z.object({ mac: macSchema }).strict(),
      body: z.record(z.string(), z.unknown()),
      status: 201,
      handler: ({ principal, params, body }) => {
        const seen = d.discovered.get(params.mac);
        if (!seen) throw new RackhandError('NOT_FOUND', `${params.mac} has not been discovered`);
        const interfaces = Array.isArray(body.interfaces) ? body.interfaces : [{ name: 'eth0', mac: params.mac }];
        const server = d.inventory.adopt(principal, { ...body, interfaces });
        d.discovered.remove(params.mac);
        return server;
      },
    }),
  ];
}
