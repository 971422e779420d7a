// The native face (/api/v1): what the CLI and the technician's page use, also rendered as OpenAPI. Each row is a
// route, its schemas and one core call.
import { z } from 'zod';
import { errorBody, RackhandError } from '../../errors.js';
import { SERVER_STATUSES, macSchema } from '../../domain/server.js';
import { TASK_STATES } from '../../store/repos/tasks-repo.js';
import type { SwitchInfo } from '../../store/repos/switches-repo.js';
import { historyHoursSchema } from '../../core/history.js';
import { newTokenSchema } from '../../core/tokens.js';
import { switchInputSchema, switchNameSchema } from '../../core/switch-ports.js';
import { endpoint, type Face } from '../face.js';
import { idParams, intParam, pageFrom, pageQuery } from '../params.js';
import { pageOf } from '../../core/page.js';

const pageOnly = z.object(pageQuery).strict();
import { taskEvents } from './v1-events.js';

const serverListQuery = z
  .object({
    q: z.string().max(128).optional(),
    id: intParam.optional(),
    location: z.string().max(128).optional(),
    type: z.string().max(64).optional(),
    group: z.string().max(128).optional(),
    status: z.enum(SERVER_STATUSES).optional(),
    ip: z.string().max(64).optional(),
    ...pageQuery,
  })
  .strict();

const taskListQuery = z
  .object({ server: intParam.optional(), state: z.enum(TASK_STATES).optional(), kind: z.string().max(64).optional(), ...pageQuery })
  .strict();

const importBody = z.union([z.array(z.unknown()), z.object({ servers: z.array(z.unknown()) }).strict()]);

const reinstallBody = z
  .object({
    os_id: z.union([intParam, z.string().max(64)]),
    root_pass: z.string().max(256),
    hostname: z.string().max(253).optional(),
    ssh_key: z.string().max(16384).optional(),
    uefi: z.boolean().optional(),
    disk_mirror: z.union([z.literal(0), z.literal(1), z.literal(10)]).optional(),
    post_install_callback: z.string().max(2048).optional(),
  })
  .strict();

export function v1Switch(s: SwitchInfo) {
  return {
    id: s.id,
    name: s.name,
    address: `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`,
    version: s.version,
    community: s.communitySet ? 'set' : 'not set',
    user: s.v3User,
    auth_protocol: 'sha',
    auth_key: s.authKeySet ? 'set' : 'not set',
    priv_protocol: 'aes',
    priv_key: s.privKeySet ? 'set' : 'not set',
    note: s.note,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}

export const v1Face: Face = {
  name: 'v1',
  prefixes: ['/api/v1'],
  errorBody: (err) => errorBody(err),
  endpoints: [
    endpoint({
      method: 'GET',
      path: '/api/v1/whoami',
      summary: 'The calling token: name, role, owner',
      tag: 'auth',
      handler: ({ core, principal }) => core.tokens.whoami(principal),
    }),
    // ---- servers
    endpoint({
      method: 'GET',
      path: '/api/v1/servers',
      summary: 'List servers (search q matches name, rack, MAC, IP)',
      tag: 'servers',
      query: serverListQuery,
      handler: ({ core, principal, query }) => {
        const { q, limit: _l, offset: _o, ...rest } = query;
        return core.servers.list(principal, { ...rest, search: q, ...pageFrom(query) });
      },
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers',
      summary: 'Create or replace one server (by id)',
      tag: 'servers',
      body: z.unknown(),
      handler: ({ core, principal, body, res }) => {
        const r = core.servers.upsert(principal, body);
        res.status(r.created ? 201 : 200).json(r.server);
      },
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/import',
      summary: 'Idempotent bulk import: upsert servers by id, all or nothing',
      tag: 'servers',
      body: importBody,
      bodyLimit: 'import',
      handler: ({ core, principal, body }) => core.servers.import(principal, Array.isArray(body) ? body : body.servers),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id',
      summary: 'One server, with its netboot state',
      tag: 'servers',
      params: idParams,
      handler: ({ core, principal, params }) => ({ ...core.servers.show(principal, params.id), netboot: core.netboot.view(principal, params.id) }),
    }),
    endpoint({
      method: 'PUT',
      path: '/api/v1/servers/:id',
      summary: 'Replace one server; the body id must match the path',
      tag: 'servers',
      params: idParams,
      body: z.record(z.string(), z.unknown()),
      handler: ({ core, principal, params, body }) => {
        if (body.id !== undefined && body.id !== params.id) {
          throw new RackhandError('INVALID_INPUT', 'id: body id differs from the path', { field: 'id' });
        }
        return core.servers.upsert(principal, { ...body, id: params.id }).server;
      },
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/servers/:id',
      summary: 'Remove a server from the inventory',
      tag: 'servers',
      params: idParams,
      status: 204,
      handler: ({ core, principal, params, res }) => {
        core.servers.remove(principal, params.id);
        res.status(204).end();
      },
    }),
    // ---- BMC
    endpoint({
      method: 'POST',
      path: '/api/v1/power-sync',
      summary: "Read every BMC's power state now (the periodic sync, on demand)",
      tag: 'bmc',
      handler: ({ core, principal }) => core.power.syncAll(principal),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/power',
      summary: 'Power on / off / soft / reset / cycle / reboot, verified by reading the state back',
      tag: 'bmc',
      params: idParams,
      body: z.object({ action: z.enum(['on', 'off', 'soft', 'reset', 'cycle', 'reboot']) }).strict(),
      status: 202,
      handler: ({ core, principal, params, body }) => core.power.power(principal, params.id, body.action),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/boot-device',
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
      handler: ({ core, principal, params, body }) => core.power.bootDevice(principal, params.id, body),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/sensors',
      summary: 'Read every sensor now (a read-only task; waits for it)',
      tag: 'bmc',
      params: idParams,
      handler: async ({ core, principal, params }) => {
        const r = await core.power.sensors(principal, params.id);
        return { task: r.task.id, read_at: r.task.finishedAt, sensors: r.sensors };
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/sensors/history',
      summary: 'Stored sensor samples of the last `hours` (default 24), per sensor, oldest first',
      tag: 'bmc',
      params: idParams,
      query: z.object({ hours: intParam.pipe(historyHoursSchema).optional() }).strict(),
      handler: ({ core, principal, params, query }) => core.history.read(principal, params.id, query.hours),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/bmc/users',
      summary: 'Add a BMC account; without name/password random ones are made and returned once. Operator unless an admin asks for administrator on a server tagged admin_ipmi',
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
      handler: ({ core, principal, params, body }) => {
        const r = core.power.addUser(principal, params.id, body);
        return { task: r.task, username: r.username, password: r.password, privilege: r.privilege };
      },
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/servers/:id/bmc/users/:name',
      summary: 'Remove a BMC account (never the one rackhand logs in with)',
      tag: 'bmc',
      params: z.object({ id: intParam, name: z.string().min(1).max(16) }).strict(),
      status: 202,
      handler: ({ core, principal, params }) => core.power.removeUser(principal, params.id, params.name),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/bmc/reset',
      summary: 'Cold or warm reset of the BMC, then wait until it answers',
      tag: 'bmc',
      params: idParams,
      body: z.object({ kind: z.enum(['cold', 'warm']).default('cold') }).strict(),
      status: 202,
      handler: ({ core, principal, params, body }) => core.power.resetBmc(principal, params.id, body.kind),
    }),
    // ---- network boot
    endpoint({
      method: 'GET',
      path: '/api/v1/os',
      summary: 'The OS catalogue (os_id numbers the eq API takes; paged)',
      tag: 'netboot',
      query: pageOnly,
      handler: ({ core, query }) => pageOf(core.deploys.osList(), pageFrom(query)),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/netboot',
      summary: 'Netboot state of a server (armed false: it boots from disk)',
      tag: 'netboot',
      params: idParams,
      handler: ({ core, principal, params }) => core.netboot.view(principal, params.id),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/reinstall',
      summary: 'Reinstall: arm netboot, PXE, power, wait for the installer, disarm, boot from disk',
      tag: 'netboot',
      params: idParams,
      body: reinstallBody,
      status: 202,
      handler: ({ core, principal, params, body }) =>
        core.deploys.reinstall(principal, params.id, {
          os: body.os_id,
          rootPassword: body.root_pass,
          uefi: body.uefi ?? false,
          postInstallCallback: body.post_install_callback,
          settings: { hostname: body.hostname, ssh_key: body.ssh_key, disk_mirror: body.disk_mirror },
        }),
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/servers/:id/netboot',
      summary: 'Disarm netboot (clear_pxe)',
      tag: 'netboot',
      params: idParams,
      status: 202,
      handler: ({ core, principal, params }) => core.deploys.clearPxe(principal, params.id),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/discovered',
      summary: 'MACs that asked to network-boot but are not in the inventory (paged)',
      tag: 'netboot',
      query: pageOnly,
      handler: ({ core, principal, query }) => pageOf(core.discovered.list(principal).list, pageFrom(query)),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/discovered/:mac/adopt',
      summary: 'Adopt a discovered MAC into the inventory as a new server',
      tag: 'netboot',
      params: z.object({ mac: macSchema }).strict(),
      body: z.record(z.string(), z.unknown()),
      status: 201,
      handler: ({ core, principal, params, body }) => core.discovered.adopt(principal, params.mac, body),
    }),
    // ---- consoles
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/console',
      summary: 'Open a console session: a key and the console page URL with a single-use ticket',
      tag: 'console',
      params: idParams,
      body: z.object({ white_ip: z.string().max(512).optional() }).strict().optional(),
      status: 201,
      handler: ({ core, principal, params, body }) => core.consoles.open(principal, params.id, body?.white_ip),
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/servers/:id/console',
      summary: 'End every console session of the server and close its viewers',
      tag: 'console',
      params: idParams,
      handler: ({ core, principal, params }) => core.consoles.stop(principal, params.id),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/console/sessions',
      summary: 'Console session audit: who, when, from where, bytes, end reason (paged)',
      tag: 'console',
      params: idParams,
      query: pageOnly,
      handler: ({ core, principal, params, query }) => pageOf(core.consoles.history(principal, params.id), pageFrom(query)),
    }),
    // ---- tasks
    endpoint({
      method: 'GET',
      path: '/api/v1/tasks',
      summary: 'List tasks, newest first',
      tag: 'tasks',
      query: taskListQuery,
      handler: ({ core, principal, query }) =>
        core.tasks.list(principal, { serverId: query.server, state: query.state, kind: query.kind, ...pageFrom(query) }),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/tasks/:id',
      summary: 'One task with its step journal',
      tag: 'tasks',
      params: idParams,
      handler: ({ core, principal, params }) => core.tasks.show(principal, params.id),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/tasks/:id/cancel',
      summary: 'Cancel a running task',
      tag: 'tasks',
      params: idParams,
      handler: ({ core, principal, params }) => core.tasks.cancel(principal, params.id),
    }),
    taskEvents,
    // ---- users and tokens
    endpoint({
      method: 'GET',
      path: '/api/v1/users',
      summary: 'List users (server owners; paged)',
      tag: 'users',
      query: pageOnly,
      handler: ({ core, principal, query }) => core.servers.listUsers(principal, pageFrom(query)),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/users',
      summary: 'Create a user',
      tag: 'users',
      status: 201,
      body: z
        .object({
          email: z.email().max(254),
          full_name: z.string().max(255).optional(),
          phone_number: z.string().max(64).optional(),
          role: z.string().max(32).optional(),
          password: z.string().min(8).max(256).optional(),
        })
        .strict(),
      handler: ({ core, principal, body }) =>
        core.servers.createUser(principal, { email: body.email, fullName: body.full_name, phoneNumber: body.phone_number, role: body.role, password: body.password }),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/tokens',
      summary: 'List tokens (never their values; paged)',
      tag: 'auth',
      query: pageOnly,
      handler: ({ core, principal, query }) => pageOf(core.tokens.list(principal), pageFrom(query)),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/tokens',
      summary: 'Create a token; its value is returned once',
      tag: 'auth',
      status: 201,
      body: newTokenSchema,
      handler: ({ core, principal, body }) => core.tokens.create(principal, body),
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/tokens/:id',
      summary: 'Revoke a token',
      tag: 'auth',
      params: idParams,
      status: 204,
      handler: ({ core, principal, params, res }) => {
        core.tokens.revoke(principal, params.id);
        res.status(204).end();
      },
    }),
    // ---- switches
    endpoint({
      method: 'GET',
      path: '/api/v1/switches',
      summary: 'List switches (credentials shown as set / not set; paged)',
      tag: 'switches',
      query: pageOnly,
      handler: ({ core, principal, query }) => {
        const { list, total } = pageOf(core.switchPorts.list(principal), pageFrom(query));
        return { switches: list.map(v1Switch), total };
      },
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/switches/:name',
      summary: 'One switch',
      tag: 'switches',
      params: z.object({ name: switchNameSchema }).strict(),
      handler: ({ core, principal, params }) => v1Switch(core.switchPorts.get(principal, params.name)),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/switches',
      summary: 'Register or update a switch by name (SNMP v2c community, or v3 authPriv user with SHA/AES keys)',
      tag: 'switches',
      body: switchInputSchema,
      handler: ({ core, principal, body, res }) => {
        const { info, created } = core.switchPorts.upsert(principal, body);
        res.status(created ? 201 : 200).json(v1Switch(info));
      },
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/switches/:name',
      summary: 'Forget a switch',
      tag: 'switches',
      params: z.object({ name: switchNameSchema }).strict(),
      handler: ({ core, principal, params }) => {
        core.switchPorts.remove(principal, params.name);
        return { deleted: params.name };
      },
    }),
  ],
};
