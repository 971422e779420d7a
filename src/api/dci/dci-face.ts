// The DCImanager-6 face (seeds/004): /api/dci/v3/… and /api/ip/v3/…, bodies as the seed's curl lines send them;
// mutations answer {id, task}. Each row: the seed's route and body → one core call → the seed's shape.
import { z } from 'zod';
import { errorBody, RackhandError } from '../../errors.js';
import type { Principal } from '../../auth/tokens.js';
import type { Core } from '../../core/core.js';
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import type { UserRecord } from '../../store/repos/users-repo.js';
import { endpoint, type Endpoint, type Face } from '../face.js';
import { flagParam, idParams, intParam, pageQuery } from '../params.js';
import { dciIpAddress, dciIpNetwork, dciIpPool, dciServer } from './dci-shapes.js';

const text = (max: number) => z.string().max(max).regex(/^[^\x00-\x1f\x7f]*$/, 'control characters are not allowed');

/** Billing sends "", null or 0 for a field it does not use: all three mean "not given". */
const unset = (v: unknown) => (v === '' || v === null || v === 0 || v === '0' ? undefined : v);

/** DCImanager spells families as ipv4/ipv6, 4/6, or AF_INET numbers (2/10). */
const familyParam = z
  .union([z.literal(4), z.literal(6), z.literal(2), z.literal(10), z.enum(['ipv4', 'ipv6', 'IPv4', 'IPv6', '4', '6', '2', '10', 'inet', 'inet6'])], {
    error: 'expected ipv4 or ipv6',
  })
  .transform((v): 4 | 6 => (['ipv6', 'IPv6', '6', '10', 'inet6', 6, 10] as unknown[]).includes(v) ? 6 : 4);

/** A network or pool by id, or by name. */
const refParam = z.union([intParam, text(64).min(1)]);

const domainParam = z.string().max(253).regex(/^[A-Za-z0-9.-]*$/, 'letters, digits, dots and dashes only');

const allocateBody = z
  .object({
    domain: domainParam.optional(),
    family: z.preprocess(unset, familyParam.optional()),
    ip_name: z.preprocess(unset, z.string().max(64).optional()),
    ip_net: z.preprocess(unset, refParam.optional()),
    ip_pool: z.preprocess(unset, refParam.optional()),
    set_as_main_ipv4: flagParam.optional(),
    userspace: z.preprocess((v) => (v === '' || v === null ? undefined : v), intParam.optional()),
  })
  .strict();

const networkBody = z
  .object({
    name: z.string().min(1).max(64),
    mask: intParam.pipe(z.number().max(128)).optional(),
    family: z.preprocess(unset, familyParam.optional()),
    gateway: z.preprocess((v) => (v === '' || v === null ? undefined : v), z.string().max(64).optional()),
    vlan: text(64).optional(),
    note: text(1024).optional(),
    dns: z.array(z.string().max(64)).max(8).optional(),
    userspace: intParam.optional(),
  })
  .strict();

const poolBody = z
  .object({
    name: text(64).min(1),
    note: text(1024).optional(),
    is_public: flagParam.optional(),
    userspace: intParam.optional(),
    ranges: z.array(z.string().max(100)).min(1).max(256),
  })
  .strict();

const addressParams = z.object({ id: intParam, ip_id: intParam }).strict();

const userBody = z
  .object({
    email: z.email().max(254),
    full_name: z.string().max(255).optional(),
    password: z.string().min(8).max(256),
    phone_number: z.string().max(64).optional(),
    role: z.string().max(32).regex(/^@?[a-z_]*$/).optional(),
  })
  .strict();

const osBody = z
  .object({
    os_template_id: intParam,
    password: z.string().min(1).max(256),
    ssh_pub_keys: z.array(z.string().max(16384)).max(32).optional(),
    hdd_raid: z.string().max(16).optional(),
    hostname: z.string().max(253).optional(),
    uefi: z.boolean().optional(),
  })
  .strict();

const diagBody = z
  .object({
    setup_ipmi: flagParam.optional(),
    ipmi_pool: intParam.optional(),
    os_template_id: intParam.optional(),
    clear_hdd: z.string().max(32).optional(),
  })
  .strict();

const clearBody = z.object({ clear_hdd: z.enum(['none', 'fast', 'zero', 'random', 'secure-erase']) }).strict();

const emptyBody = z.record(z.string(), z.unknown()).optional();

const served = (id: number, t: TaskRecord) => ({ id, task: t.id });

function ownersById(core: Core, p: Principal): Map<number, UserRecord> {
  try {
    return new Map(core.servers.listUsers(p).map((u) => [u.id, u]));
  } catch {
    return new Map();
  }
}

/** hdd_raid as DCImanager names layouts: none, raid1, raid10. */
function diskMirror(raid: string | undefined): number | undefined {
  if (raid === undefined || raid === '' || raid === 'none') return undefined;
  const m = /^raid(1|10)$/i.exec(raid);
  if (!m) throw new RackhandError('INVALID_INPUT', `hdd_raid: expected none, raid1 or raid10, not ${JSON.stringify(raid)}`, { field: 'hdd_raid' });
  return Number(m[1]);
}

const WIPE_MODES = { fast: 'quick', zero: 'zero', 'secure-erase': 'secure' } as const;

const serverOp = (op: string, summary: string, handler: Endpoint<{ id: number }, undefined, any>['handler'], body: z.ZodType = emptyBody) =>
  endpoint({ method: 'POST', path: `/api/dci/v3/server/:id/${op}`, summary: `DCImanager: ${summary} (returns {id, task})`, tag: 'dci', params: idParams, body, handler });

export const dciFace: Face = {
  name: 'dci',
  prefixes: ['/api/dci', '/api/ip'],
  errorBody: (err) => errorBody(err),
  endpoints: [
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/server',
      summary: 'DCImanager: list servers',
      tag: 'dci',
      handler: ({ core, principal }) => {
        const { servers, total } = core.servers.list(principal, {});
        const owners = ownersById(core, principal);
        return { list: servers.map((s) => dciServer(s, s.ownerId === null ? undefined : owners.get(s.ownerId))), size: total };
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/server/configuration',
      summary: 'DCImanager: free servers per configuration',
      tag: 'dci',
      handler: ({ core, principal }) => ({ list: core.servers.freeByConfiguration(principal) }),
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/server/:id',
      summary: 'DCImanager: server info',
      tag: 'dci',
      params: idParams,
      handler: ({ core, principal, params }) => {
        const s = core.servers.show(principal, params.id);
        return dciServer(s, s.ownerId === null ? undefined : ownersById(core, principal).get(s.ownerId));
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/user',
      summary: 'DCImanager: list users',
      tag: 'dci',
      handler: ({ core, principal }) => ({
        list: core.servers.listUsers(principal).map((u) => ({
          id: u.id,
          email: u.email,
          full_name: u.fullName,
          server_count: u.serverCount,
          roles: `[@${u.role}]`,
          vlans_per_user: u.vlansPerUser,
        })),
      }),
    }),
    endpoint({
      method: 'POST',
      path: '/api/dci/v3/user',
      summary: 'DCImanager: add a user',
      tag: 'dci',
      body: userBody,
      handler: ({ core, principal, body }) => ({
        id: core.servers.createUser(principal, {
          email: body.email,
          fullName: body.full_name,
          password: body.password,
          phoneNumber: body.phone_number,
          role: body.role?.replace(/^@/, ''),
        }).id,
      }),
    }),
    endpoint({
      method: 'POST',
      path: '/api/dci/v3/server/:id/owner',
      summary: 'DCImanager: assign a server to an owner',
      tag: 'dci',
      params: idParams,
      body: z.object({ owner: intParam }).strict(),
      handler: ({ core, principal, params, body }) => {
        core.servers.setOwner(principal, params.id, body.owner);
        return { id: params.id };
      },
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/dci/v3/server/:id/owner',
      summary: 'DCImanager: release a server from its owner',
      tag: 'dci',
      params: idParams,
      handler: ({ core, principal, params }) => {
        core.servers.setOwner(principal, params.id, null);
        return { id: params.id };
      },
    }),
    serverOp('power_on', 'power on', ({ core, principal, params }) => served(params.id, core.power.power(principal, params.id, 'on'))),
    serverOp('power_off', 'power off', ({ core, principal, params }) => served(params.id, core.power.power(principal, params.id, 'off'))),
    serverOp('power_reset', 'reboot', ({ core, principal, params }) => served(params.id, core.power.power(principal, params.id, 'reboot'))),
    serverOp('suspend', 'switch ports down', ({ core, principal, params }) => served(params.id, core.switchPorts.setSuspended(principal, params.id, true))),
    serverOp('resume', 'switch ports up', ({ core, principal, params }) => served(params.id, core.switchPorts.setSuspended(principal, params.id, false))),
    serverOp(
      'operation_os',
      'install an OS',
      ({ core, principal, params, body }) =>
        served(
          params.id,
          core.deploys.reinstall(principal, params.id, {
            os: body.os_template_id,
            rootPassword: body.password,
            uefi: body.uefi ?? false,
            settings: { ssh_key: body.ssh_pub_keys?.join('\n'), disk_mirror: diskMirror(body.hdd_raid), hostname: body.hostname },
          }),
        ),
      osBody,
    ),
    serverOp(
      'operation_diag',
      'diagnostics',
      ({ core, principal, params, body }) => {
        if (body.setup_ipmi) {
          throw new RackhandError('NOT_IMPLEMENTED', 'setup_ipmi: configuring the BMC network from a pool is not done by rackhand; send setup_ipmi false', {
            field: 'setup_ipmi',
          });
        }
        const wipe = body.clear_hdd && body.clear_hdd !== 'none' ? body.clear_hdd : undefined;
        if (wipe) throw new RackhandError('NOT_IMPLEMENTED', 'clear_hdd: diagnostics do not wipe; call operation_clear_hdd', { field: 'clear_hdd' });
        // os_template_id 0 (the seed's example) means the default diagnostics image.
        return served(params.id, core.deploys.diagnostics(principal, params.id, { os: body.os_template_id || undefined, extra: { ipmi_pool: body.ipmi_pool } }));
      },
      diagBody,
    ),
    serverOp(
      'operation_clear_hdd',
      'wipe disks',
      ({ core, principal, params, body }) => {
        if (body.clear_hdd === 'none') throw new RackhandError('INVALID_INPUT', 'clear_hdd: "none" wipes nothing; choose fast, zero or secure-erase', { field: 'clear_hdd' });
        if (body.clear_hdd === 'random') throw new RackhandError('NOT_IMPLEMENTED', 'clear_hdd: random overwrite is not offered; zero overwrites every byte', { field: 'clear_hdd' });
        return served(params.id, core.deploys.wipe(principal, params.id, WIPE_MODES[body.clear_hdd as keyof typeof WIPE_MODES]));
      },
      clearBody,
    ),
    endpoint({
      method: 'GET',
      path: '/api/ip/v3/ipnet',
      summary: 'DCImanager: list IP networks',
      tag: 'ipam',
      handler: ({ core, principal }) => {
        const list = core.ipam.listNetworks(principal).map(dciIpNetwork);
        return { list, size: list.length };
      },
    }),
    endpoint({
      method: 'POST',
      path: '/api/ip/v3/ipnet',
      summary: 'Create an IP network (name is its CIDR, or an address with mask)',
      tag: 'ipam',
      body: networkBody,
      status: 201,
      handler: ({ core, principal, body }) => dciIpNetwork(core.ipam.createNetwork(principal, body)),
    }),
    endpoint({
      method: 'GET',
      path: '/api/ip/v3/ippool',
      summary: 'DCImanager: list IP pools',
      tag: 'ipam',
      handler: ({ core, principal }) => {
        const list = core.ipam.listPools(principal).map(dciIpPool);
        return { list, size: list.length };
      },
    }),
    endpoint({
      method: 'POST',
      path: '/api/ip/v3/ippool',
      summary: 'Create an IP pool from ranges (first-last, CIDR or one address) inside registered networks',
      tag: 'ipam',
      body: poolBody,
      status: 201,
      handler: ({ core, principal, body }) =>
        dciIpPool(core.ipam.createPool(principal, { name: body.name, note: body.note, isPublic: body.is_public, userspace: body.userspace, ranges: body.ranges })),
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/ip',
      summary: 'DCImanager: list IP addresses (a client sees those of its servers)',
      tag: 'ipam',
      query: z.object(pageQuery).strict(),
      handler: ({ core, principal, query }) => {
        const { list, total } = core.ipam.listAddresses(principal, query);
        return { list: list.map(dciIpAddress), size: total };
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/server/:id/ip',
      summary: "DCImanager: a server's IP addresses",
      tag: 'ipam',
      params: idParams,
      handler: ({ core, principal, params }) => {
        const list = core.ipam.serverAddresses(principal, params.id).map(dciIpAddress);
        return { list, size: list.length };
      },
    }),
    endpoint({
      method: 'POST',
      path: '/api/dci/v3/server/:id/ip',
      summary: 'DCImanager: allocate an IP address to a server (returns {id: address id, task})',
      tag: 'ipam',
      params: idParams,
      body: allocateBody,
      handler: async ({ core, principal, params, body }) => {
        const r = await core.ipam.allocateRecorded(principal, params.id, {
          family: body.family,
          ipName: body.ip_name,
          network: body.ip_net,
          pool: body.ip_pool,
          domain: body.domain,
          setAsMainIpv4: body.set_as_main_ipv4,
          userspace: body.userspace,
        });
        return { id: r.address.id, task: r.task };
      },
    }),
    endpoint({
      method: 'POST',
      path: '/api/dci/v3/server/:id/ip/:ip_id',
      summary: 'DCImanager: delete an IP address from a server (returns {id, task})',
      tag: 'ipam',
      params: addressParams,
      body: emptyBody,
      handler: async ({ core, principal, params }) => {
        const r = await core.ipam.releaseRecorded(principal, params.id, params.ip_id);
        return { id: r.address.id, task: r.task };
      },
    }),
  ],
};
