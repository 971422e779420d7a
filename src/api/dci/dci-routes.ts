// The DCImanager-6-style facade (seeds/004): /api/dci/v3/… with its list/object shapes; mutations return {id, task}.
import { z } from 'zod';
import { RackhandError } from '../../errors.js';
import type { InventoryService } from '../../core/inventory-service.js';
import type { ServerRecord } from '../../inventory/server-schema.js';
import type { UserRecord } from '../../store/repos/users-repo.js';
import { idParams, intParam } from '../params.js';
import { route, type RouteSpec } from '../route-table.js';
import { mainIp } from '../eq/eq-shapes.js';
import type { Principal } from '../../auth/tokens.js';

/** Operations on one server that answer {id, task}: wired by the agent as their backends land. */
export type DciServerOperation = (p: Principal, serverId: number, body: Record<string, unknown>) => Promise<{ task: number }> | { task: number };

export interface DciDeps {
  inventory: InventoryService;
  operations: Partial<Record<DciOperationName, DciServerOperation>>;
}

export const DCI_OPERATIONS = [
  'power_on',
  'power_off',
  'power_reset',
  'suspend',
  'resume',
  'operation_os',
  'operation_diag',
  'operation_clear_hdd',
] as const;
export type DciOperationName = (typeof DCI_OPERATIONS)[number];

export function dciServer(s: ServerRecord, owner?: UserRecord) {
  return {
    id: s.id,
    name: s.name,
    domain: '',
    status: s.status,
    configuration: s.configuration,
    preset: s.preset,
    type: s.type,
    location: { id: s.locationId, name: s.location, datacenter: s.datacenter },
    rack: { name: s.rack, position: s.rackPosition },
    owner: s.ownerId === null ? null : { id: s.ownerId, email: owner?.email ?? '' },
    ip: mainIp(s),
    ip_list: s.interfaces.filter((i) => i.ip).map((i) => ({ ip: i.ip, interface: i.name })),
    interfaces: s.interfaces.map((i) => ({ id: i.id, name: i.name, mac: i.mac, ip: i.ip, switch: i.switch, switch_port: i.switchPort })),
    os: s.os,
    tags: s.tags,
    groups: s.groups,
    hardware: s.hardware,
    ipmi: s.bmc ? { ip: s.bmc.host, model: s.bmc.model, user: s.bmc.username, password: s.bmc.passwordSet ? 'set' : 'not set' } : null,
    power_status: s.power.state,
    power_read_at: s.power.readAt,
    suspended: s.suspended,
  };
}

export function dciRoutes(d: DciDeps): RouteSpec[] {
  const ownersById = (p: Principal) => {
    try {
      return new Map(d.inventory.listUsers(p).map((u) => [u.id, u]));
    } catch {
      return new Map<number, UserRecord>();
    }
  };
  const routes: RouteSpec[] = [
    route({
      method: 'GET',
      url: '/api/dci/v3/server',
      summary: 'DCImanager: list servers',
      tag: 'dci',
      handler: ({ principal }) => {
        const { servers, total } = d.inventory.list(principal, {});
        const owners = ownersById(principal);
        return { list: servers.map((s) => dciServer(s, s.ownerId === null ? undefined : owners.get(s.ownerId))), size: total };
      },
    }),
    route({
      method: 'GET',
      url: '/api/dci/v3/server/configuration',
      summary: 'DCImanager: free servers per configuration',
      tag: 'dci',
      handler: ({ principal }) => ({ list: d.inventory.freeByConfiguration(principal) }),
    }),
    route({
      method: 'GET',
      url: '/api/dci/v3/server/:id',
      summary: 'DCImanager: server info',
      tag: 'dci',
      params: idParams,
      handler: ({ principal, params }) => {
        const s = d.inventory.show(principal, params.id);
        return dciServer(s, s.ownerId === null ? undefined : ownersById(principal).get(s.ownerId));
      },
    }),
    route({
      method: 'GET',
      url: '/api/dci/v3/user',
      summary: 'DCImanager: list users',
      tag: 'dci',
      handler: ({ principal }) => ({
        list: d.inventory.listUsers(principal).map((u) => ({
          id: u.id,
          email: u.email,
          full_name: u.fullName,
          server_count: u.serverCount,
          roles: `[@${u.role}]`,
          vlans_per_user: u.vlansPerUser,
        })),
      }),
    }),
    route({
      method: 'POST',
      url: '/api/dci/v3/user',
      summary: 'DCImanager: add a user',
      tag: 'dci',
      body: z
        .object({
          email: z.email().max(254),
          full_name: z.string().max(255).optional(),
          password: z.string().min(8).max(256),
          phone_number: z.string().max(64).optional(),
          role: z.string().max(32).regex(/^[a-z_@]*$/).optional(),
        })
        .strict(),
      handler: ({ principal, body }) => ({
        id: d.inventory.createUser(principal, {
          email: body.email,
          fullName: body.full_name,
          password: body.password,
          phoneNumber: body.phone_number,
          role: body.role?.replace(/^@/, ''),
        }).id,
      }),
    }),
    route({
      method: 'POST',
      url: '/api/dci/v3/server/:id/owner',
      summary: 'DCImanager: assign a server to an owner',
      tag: 'dci',
      params: idParams,
      body: z.object({ owner: intParam }).strict(),
      handler: ({ principal, params, body }) => {
        d.inventory.show(principal, params.id);
        d.inventory.setOwner(principal, params.id, body.owner);
        return { id: params.id };
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/dci/v3/server/:id/owner',
      summary: 'DCImanager: release a server from its owner',
      tag: 'dci',
      params: idParams,
      handler: ({ principal, params }) => {
        d.inventory.show(principal, params.id);
        d.inventory.setOwner(principal, params.id, null);
        return { id: params.id };
      },
    }),
  ];
  for (const op of DCI_OPERATIONS) {
    routes.push(
      route({
        method: 'POST',
        url: `/api/dci/v3/server/:id/${op}`,
        summary: `DCImanager: ${op.replace(/_/g, ' ')} (returns {id, task})`,
        tag: 'dci',
        params: idParams,
        body: z.record(z.string(), z.unknown()).optional(),
        handler: async ({ principal, params, body }) => {
          d.inventory.show(principal, params.id);
          const impl = d.operations[op];
          if (!impl) throw new RackhandError('NOT_IMPLEMENTED', `${op} is not implemented by this rackhand yet`);
          const { task } = await impl(principal, params.id, body ?? {});
          return { id: params.id, task };
        },
      }),
    );
  }
  return routes;
}
