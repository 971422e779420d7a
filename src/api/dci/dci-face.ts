// The DCImanager-6 face (seeds/004): /api/dci/v3/… and /api/ip/v3/…, bodies as the seed's curl lines send them;
// mutations answer {id, task}. Each row: the seed's route and body → one core call → the seed's shape.
import { z } from 'zod';
import { errorBody, RackhandError } from '../../errors.js';
import type { Principal } from '../../auth/tokens.js';
import type { Core } from '../../core/core.js';
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import { TASK_STATES } from '../../store/repos/tasks-repo.js';
import { endpoint, type Endpoint, type Face } from '../face.js';
import { flagParam, idParams, intParam, pageFrom, pageQuery } from '../params.js';
import { pageOf } from '../../core/page.js';
import { dciIpAddress, dciIpNetwork, dciIpPool, dciServer, dciTask, dciUser } from './dci-shapes.js';

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

const pageOnly = z.object(pageQuery).strict();

const userBody = z
  .object({
    email: z.email().max(254),
    full_name: z.string().max(255).optional(),
    password: z.string().min(8, 'at least 8 characters (the user\'s own login password)').max(256),
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

const clearBody = z
  .object({ clear_hdd: z.enum(['none', 'fast', 'zero', 'random', 'secure-erase'], { error: 'expected none, fast, zero, random or secure-erase' }) })
  .strict();

const emptyBody = z.record(z.string(), z.unknown()).optional();

const served = (id: number, t: TaskRecord) => ({ id, task: t.id });

/** rackhand's names for install parameters → DCImanager's, so an operation_os error names the field the caller sent. */
const DCI_INSTALL_FIELDS: Record<string, string> = { root_pass: 'password', ssh_key: 'ssh_pub_keys', os_id: 'os_template_id', disk_mirror: 'hdd_raid' };

function inDciNames<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const field = e instanceof RackhandError ? e.details?.field : undefined;
    if (!(e instanceof RackhandError) || typeof field !== 'string' || !(field in DCI_INSTALL_FIELDS)) throw e;
    const name = DCI_INSTALL_FIELDS[field];
    throw new RackhandError(e.code, e.message.replace(new RegExp(`^${field}\\b`), name), { ...e.details, field: name });
  }
}

/** Paths under /api/dci/v3/server/ that are not a server id. */
const SERVER_SUBROUTES = ['configuration'];

/**
 * A server id from the path. A curl line missing the space before -H (the seed's first line) glues `-H` onto
 * the URL: say what was meant instead of complaining about the id.
 */
function serverIdFrom(raw: string, path: string): number {
  if (/^\d{1,15}$/.test(raw)) return Number(raw);
  const meant = SERVER_SUBROUTES.find((r) => raw.startsWith(r));
  if (meant) throw new RackhandError('NOT_FOUND', `${gluedHint(path) ?? `no route ${path}`}`, { path });
  throw new RackhandError('INVALID_INPUT', 'id: expected a non-negative integer', { field: 'id' });
}

/** The hint for a path ending in a glued curl option (…/configuration-H): the path meant, and why. */
function gluedHint(path: string): string | undefined {
  const m = /^(.*[^-])-[A-Za-z]$/.exec(path);
  return m ? `no route ${path}: did you mean ${m[1]}? (a curl line without a space before -H glues the option onto the URL)` : undefined;
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
  errorBody: (err, req) => {
    // A route not found because a curl option was glued onto the URL: say so (the seed's first line does it).
    const hint = err.code === 'NOT_FOUND' && err.message.startsWith('no route ') && !err.message.includes('did you mean') ? gluedHint(req.path) : undefined;
    return errorBody(hint ? new RackhandError('NOT_FOUND', hint, err.details) : err);
  },
  endpoints: [
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/server',
      summary: 'DCImanager: list servers (paged: limit, offset; size is the total)',
      tag: 'dci',
      query: pageOnly,
      handler: ({ core, principal, query }) => {
        const { list, total } = core.views.list(principal, {}, pageFrom(query));
        return { list: list.map(dciServer), size: total };
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/server/configuration',
      summary: 'DCImanager: free servers per configuration (paged)',
      tag: 'dci',
      query: pageOnly,
      handler: ({ core, principal, query }) => {
        const { list, total } = pageOf(core.servers.freeByConfiguration(principal), pageFrom(query));
        return { list, size: total };
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/server/:id',
      summary: 'DCImanager: server info',
      tag: 'dci',
      params: z.object({ id: z.string().max(64) }).strict(),
      handler: ({ core, principal, params, req }) => dciServer(core.views.show(principal, serverIdFrom(params.id, req.path))),
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/user',
      summary: 'DCImanager: list users (paged)',
      tag: 'dci',
      query: pageOnly,
      handler: ({ core, principal, query }) => {
        const { list, total } = core.servers.listUsers(principal, pageFrom(query));
        return { list: list.map(dciUser), size: total };
      },
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
          inDciNames(() =>
            core.deploys.reinstall(principal, params.id, {
              os: body.os_template_id,
              rootPassword: body.password,
              uefi: body.uefi ?? false,
              settings: { ssh_key: body.ssh_pub_keys?.join('\n'), disk_mirror: diskMirror(body.hdd_raid), hostname: body.hostname },
            }),
          ),
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
        // The seed's own example: "none" asks for no wipe; the task records that nothing was wiped.
        if (body.clear_hdd === 'none') return served(params.id, core.deploys.wipeNothing(principal, params.id));
        if (body.clear_hdd === 'random') throw new RackhandError('NOT_IMPLEMENTED', 'clear_hdd: random overwrite is not offered; zero overwrites every byte', { field: 'clear_hdd' });
        return served(params.id, core.deploys.wipe(principal, params.id, WIPE_MODES[body.clear_hdd as keyof typeof WIPE_MODES]));
      },
      clearBody,
    ),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/task',
      summary: 'DCImanager: tasks, newest first (paged; filters server, status)',
      tag: 'dci',
      query: z.object({ server: intParam.optional(), status: z.enum(TASK_STATES).optional(), ...pageQuery }).strict(),
      handler: ({ core, principal, query }) => {
        const page = pageFrom(query);
        const { tasks, total } = core.tasks.list(principal, { serverId: query.server, state: query.status, ...page });
        return { list: tasks.map(dciTask), size: total };
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/task/:id',
      summary: 'DCImanager: one task (the {task} a server operation answered) with its journal',
      tag: 'dci',
      params: idParams,
      handler: ({ core, principal, params }) => dciTask(core.tasks.show(principal, params.id)),
    }),
    endpoint({
      method: 'GET',
      path: '/api/ip/v3/ipnet',
      summary: 'DCImanager: list IP networks (paged)',
      tag: 'ipam',
      query: pageOnly,
      handler: ({ core, principal, query }) => {
        const { list, total } = core.ipam.listNetworks(principal, pageFrom(query));
        return { list: list.map(dciIpNetwork), size: total };
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
      summary: 'DCImanager: list IP pools (paged)',
      tag: 'ipam',
      query: pageOnly,
      handler: ({ core, principal, query }) => {
        const { list, total } = core.ipam.listPools(principal, pageFrom(query));
        return { list: list.map(dciIpPool), size: total };
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
      query: pageOnly,
      handler: ({ core, principal, query }) => {
        const { list, total } = core.ipam.listAddresses(principal, pageFrom(query));
        return { list: list.map(dciIpAddress), size: total };
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/dci/v3/server/:id/ip',
      summary: "DCImanager: a server's IP addresses (paged)",
      tag: 'ipam',
      params: idParams,
      query: pageOnly,
      handler: ({ core, principal, params, query }) => {
        const { list, total } = core.ipam.serverAddresses(principal, params.id, pageFrom(query));
        return { list: list.map(dciIpAddress), size: total };
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
