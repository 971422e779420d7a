// The native face (/api/v1): what the CLI and the technician's page use, also rendered as OpenAPI. Each row is a
// route, its schemas and one core call.
import { z } from 'zod';
import { errorBody, RackhandError } from '../../errors.js';
import { BOOT_VIA, SERVER_STATUSES, macSchema, serverInputSchema } from '../../domain/server.js';
import { BOOT_DEVICES, BOOT_MODES } from '../../bmc/bmc-driver.js';
import { IMPORT_MODES } from '../../core/servers.js';
import { serverWriteSchema } from '../../core/server-merge.js';
import { TASK_STATES } from '../../store/repos/tasks-repo.js';
import type { SwitchInfo } from '../../store/repos/switches-repo.js';
import { historyHoursSchema } from '../../core/history.js';
import { newTokenSchema } from '../../core/tokens.js';
import { switchInputSchema, switchNameSchema } from '../../core/switch-ports.js';
import { imageImportSchema } from '../../core/images.js';
import { endpoint, type Face } from '../face.js';
import { documentedAs } from '../openapi.js';
import { flagParam, idParams, intParam, pageFrom, pageQuery } from '../params.js';
import { pageOf } from '../../core/page.js';

const pageOnly = z.object(pageQuery).strict();
import { taskEvents } from './v1-events.js';
import {
  auditListSchema,
  bmcCertificateForgottenSchema,
  bmcCertificateSchema,
  bmcUserAddedSchema,
  bootHistorySchema,
  hardwareSchema,
  imageListSchema,
  imageSchema,
  consoleOpenedSchema,
  consoleSessionsSchema,
  consoleStoppedSchema,
  discoveredListSchema,
  eventLogSchema,
  importResultSchema,
  netbootViewSchema,
  osListSchema,
  powerSyncSchema,
  sensorSyncSchema,
  sensorHistorySchema,
  sensorsReadSchema,
  serverDetailSchema,
  serverListSchema,
  serverSchema,
  switchListSchema,
  switchSchema,
  taskListSchema,
  taskSchema,
  tokenCreatedSchema,
  tokenListSchema,
  userListSchema,
  userSchema,
  whoamiSchema,
} from './v1-schemas.js';

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

// Server writes are checked by core.servers as a whole (merged over the stored server, every problem at once);
// here only their outer shape, documented as the server write shape.
const serverWrite = documentedAs(z.record(z.string(), z.unknown()), serverWriteSchema);
const newServerWrite = documentedAs(z.record(z.string(), z.unknown()), serverWriteSchema.extend({ id: serverInputSchema.shape.id }));
const importBody = documentedAs(
  z.union([z.array(z.unknown()), z.object({ servers: z.array(z.unknown()) }).strict()]),
  z.union([z.array(serverWriteSchema), z.object({ servers: z.array(serverWriteSchema) }).strict()]),
);
const writeQuery = z
  .object({ mode: z.enum(IMPORT_MODES).default('merge').describe('merge: fields not given are kept; replace: they take their defaults') })
  .strict();
const importQuery = writeQuery.extend({ dry_run: flagParam.optional().describe('1: check and report the diff per server; write nothing') }).strict();

const bootHistoryQuery = z.object({ limit: intParam.pipe(z.number().min(1).max(1000)).optional(), offset: intParam.optional() }).strict();

const reinstallBody = z
  .object({
    os_id: z.union([intParam, z.string().max(64)]),
    root_pass: z.string().max(256),
    hostname: z.string().max(253).optional(),
    ssh_key: z.string().max(16384).optional(),
    uefi: z.boolean().optional(),
    disk_mirror: z.union([z.literal(0), z.literal(1), z.literal(10)]).optional(),
    post_install_callback: z.string().max(2048).optional(),
    boot_via: z
      .enum(BOOT_VIA)
      .optional()
      .describe("pxe, virtual_media (the host's boot ISO through its BMC: no DHCP or TFTP needed) or http (UEFI HTTP boot); default: the server's boot_via"),
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
      response: whoamiSchema,
      summary: 'The calling token: name, role, owner',
      tag: 'auth',
      handler: ({ core, principal }) => core.tokens.whoami(principal),
    }),
    // ---- servers
    endpoint({
      method: 'GET',
      path: '/api/v1/servers',
      response: serverListSchema,
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
      response: serverSchema,
      summary: 'Create one server, or change it if its id exists (merge: fields not given are kept; mode=replace: they take their defaults)',
      tag: 'servers',
      query: writeQuery,
      body: newServerWrite,
      handler: ({ core, principal, query, body, res }) => {
        const r = core.servers.upsert(principal, body, query.mode);
        res.status(r.created ? 201 : 200).json(r.server);
      },
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/import',
      response: importResultSchema,
      summary: 'Bulk import by id, all or nothing: merge (default) keeps fields an item does not give, mode=replace resets them; dry_run=1 returns the diff per server and writes nothing',
      tag: 'servers',
      query: importQuery,
      body: importBody,
      bodyLimit: 'import',
      handler: ({ core, principal, query, body }) =>
        core.servers.import(principal, Array.isArray(body) ? body : body.servers, { mode: query.mode, dryRun: query.dry_run ?? false }),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id',
      response: serverDetailSchema,
      summary: 'One server, with its netboot state',
      tag: 'servers',
      params: idParams,
      handler: ({ core, principal, params }) => {
        const server = core.servers.show(principal, params.id);
        return { ...server, netboot: core.netboot.view(principal, server) };
      },
    }),
    endpoint({
      method: 'PUT',
      path: '/api/v1/servers/:id',
      response: serverSchema,
      summary:
        'Change one server: the fields given change, the others are kept (mode=replace: they take their defaults); a record read with GET may be sent back as it is (read-only fields are ignored). Creates the server when the id is new',
      tag: 'servers',
      params: idParams,
      query: writeQuery,
      body: serverWrite,
      handler: ({ core, principal, params, query, body }) => {
        if (body.id !== undefined && body.id !== params.id) {
          throw new RackhandError('INVALID_INPUT', `id: the body names server ${JSON.stringify(body.id)}, the path ${params.id}`, { field: 'id' });
        }
        return core.servers.upsert(principal, { ...body, id: params.id }, query.mode).server;
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
      response: powerSyncSchema,
      summary: "Read every BMC's power state now (the periodic sync, on demand)",
      tag: 'bmc',
      handler: ({ core, principal }) => core.power.syncAll(principal),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/sensor-sync',
      response: sensorSyncSchema,
      summary: "Sample every BMC's sensors now (the periodic sampling, on demand; stored as history)",
      tag: 'bmc',
      handler: ({ core, principal }) => core.power.sampleAll(principal),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/power',
      response: taskSchema,
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
      response: taskSchema,
      summary: 'Set the boot device (raw Set System Boot Options), read back',
      tag: 'bmc',
      params: idParams,
      body: z
        .object({
          device: z.enum(BOOT_DEVICES).describe('http: UEFI HTTP boot (Redfish BMCs)'),
          mode: z.enum(BOOT_MODES).default('auto'),
          persistent: z.boolean().default(false),
        })
        .strict(),
      status: 202,
      handler: ({ core, principal, params, body }) => core.power.bootDevice(principal, params.id, body),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/sensors',
      response: sensorsReadSchema,
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
      path: '/api/v1/servers/:id/event-log',
      response: eventLogSchema,
      summary: "Read the BMC's event log now (IPMI SEL, Redfish LogService; a read-only task, waited for); new critical entries are counted in /metrics",
      tag: 'bmc',
      params: idParams,
      handler: async ({ core, principal, params }) => {
        const r = await core.eventLogs.read(principal, params.id);
        return { task: r.task.id, read_at: r.task.finishedAt, entries: r.entries };
      },
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/servers/:id/event-log',
      response: taskSchema,
      summary: "Clear the BMC's event log (admin and tech tokens), then read it back",
      tag: 'bmc',
      params: idParams,
      status: 202,
      handler: ({ core, principal, params }) => core.eventLogs.clear(principal, params.id),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/sensors/history',
      response: sensorHistorySchema,
      summary: 'Stored sensor samples of the last `hours` (default 24), per sensor, oldest first',
      tag: 'bmc',
      params: idParams,
      query: z.object({ hours: intParam.pipe(historyHoursSchema).optional() }).strict(),
      handler: ({ core, principal, params, query }) => core.history.read(principal, params.id, query.hours),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/bmc/users',
      response: bmcUserAddedSchema,
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
      response: taskSchema,
      summary: 'Remove a BMC account (never the one rackhand logs in with)',
      tag: 'bmc',
      params: z.object({ id: intParam, name: z.string().min(1).max(16) }).strict(),
      status: 202,
      handler: ({ core, principal, params }) => core.power.removeUser(principal, params.id, params.name),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/bmc/reset',
      response: taskSchema,
      summary: 'Cold or warm reset of the BMC, then wait until it answers',
      tag: 'bmc',
      params: idParams,
      body: z.object({ kind: z.enum(['cold', 'warm']).default('cold') }).strict(),
      status: 202,
      handler: ({ core, principal, params, body }) => core.power.resetBmc(principal, params.id, body.kind),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/bmc/certificate',
      response: bmcCertificateSchema,
      summary: "The TLS certificate pinned for a Redfish BMC (trusted on first use; a different one is refused)",
      tag: 'bmc',
      params: idParams,
      handler: ({ core, principal, params }) => core.bmcTrust.certificate(principal, params.id),
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/servers/:id/bmc/certificate',
      response: bmcCertificateForgottenSchema,
      summary: "Accept a Redfish BMC's replaced certificate: its pin is forgotten, the next connection pins what it shows (admin tokens)",
      tag: 'bmc',
      params: idParams,
      handler: ({ core, principal, params }) => core.bmcTrust.forgetCertificate(principal, params.id),
    }),
    // ---- network boot
    endpoint({
      method: 'GET',
      path: '/api/v1/os',
      response: osListSchema,
      summary: 'The OS catalogue (os_id numbers the eq API takes; paged)',
      tag: 'netboot',
      query: pageOnly,
      handler: ({ core, query }) => pageOf(core.deploys.osList(), pageFrom(query)),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/netboot',
      response: netbootViewSchema,
      summary: 'Netboot state of a server (armed false: it boots from disk)',
      tag: 'netboot',
      params: idParams,
      handler: ({ core, principal, params }) => core.netboot.view(principal, params.id),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/reinstall',
      response: taskSchema,
      summary: 'Reinstall: arm netboot, boot it (PXE, the boot ISO as virtual media, or UEFI HTTP boot), power, wait for the installer, disarm, boot from disk',
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
          bootVia: body.boot_via,
        }),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/rescue',
      response: taskSchema,
      summary: 'Boot the rescue ramdisk with SSH for the given key (or root password); it stays up until DELETE /netboot',
      tag: 'netboot',
      params: idParams,
      body: z.object({ ssh_key: z.string().max(16384).optional(), root_pass: z.string().max(256).optional(), uefi: z.boolean().optional() }).strict(),
      status: 202,
      handler: ({ core, principal, params, body }) => core.deploys.rescue(principal, params.id, { sshKey: body.ssh_key, rootPassword: body.root_pass, uefi: body.uefi }),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/inspect',
      response: taskSchema,
      summary: 'Boot the rackhand ramdisk to inspect the hardware (operation_diag); the server record then carries what it found',
      tag: 'netboot',
      params: idParams,
      status: 202,
      handler: ({ core, principal, params }) => core.deploys.diagnostics(principal, params.id),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/hardware',
      response: hardwareSchema,
      summary: "The last inspection's full inventory (system, firmware, CPUs, memory, disks with SMART, NICs with LLDP)",
      tag: 'servers',
      params: idParams,
      handler: ({ core, principal, params }) => core.servers.inspection(principal, params.id),
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/servers/:id/netboot',
      response: taskSchema,
      summary: 'Disarm netboot (clear_pxe)',
      tag: 'netboot',
      params: idParams,
      status: 202,
      handler: ({ core, principal, params }) => core.deploys.clearPxe(principal, params.id),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/discovered',
      response: discoveredListSchema,
      summary: 'MACs that asked to network-boot but are not in the inventory, newest first, a page at a time',
      tag: 'netboot',
      query: z.object({ limit: intParam.pipe(z.number().min(1).max(1000)).optional(), offset: intParam.optional() }).strict(),
      handler: ({ core, principal, query }) => core.discovered.list(principal, query),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/boot-history',
      response: bootHistorySchema,
      summary:
        "What the boot plane did for this host, newest first: DHCP offers, acks and silences, TFTP reads and refusals, its boot script served (armed or local-disk) or refused, install configs, installer reports — also under its MACs before it was adopted",
      tag: 'netboot',
      params: idParams,
      query: bootHistoryQuery,
      handler: ({ core, principal, params, query }) => core.bootHistory.forServer(principal, params.id, { limit: query.limit ?? 100, offset: query.offset ?? 0 }),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/discovered/:mac/boot-history',
      response: bootHistorySchema,
      summary: 'What the boot plane did for a MAC (a discovered host, or any), newest first',
      tag: 'netboot',
      params: z.object({ mac: macSchema }).strict(),
      query: bootHistoryQuery,
      handler: ({ core, principal, params, query }) => core.bootHistory.forMac(principal, params.mac, { limit: query.limit ?? 100, offset: query.offset ?? 0 }),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/discovered/:mac/adopt',
      response: serverSchema.extend({ task: taskSchema.optional().describe('the inspection, with inspect: true') }).strict(),
      summary: 'Adopt a discovered MAC into the inventory as a new server (inspect: true boots it into the inspection ramdisk)',
      tag: 'netboot',
      params: z.object({ mac: macSchema }).strict(),
      body: documentedAs(
        z.record(z.string(), z.unknown()),
        serverWriteSchema.extend({
          id: serverInputSchema.shape.id,
          name: serverInputSchema.shape.name,
          inspect: z.boolean().optional().describe('boot the host into the inspection ramdisk; the record then carries its hardware'),
          ip: z.string().optional().describe("the discovered interface's address (when interfaces is not given)"),
        }),
      ),
      status: 201,
      handler: ({ core, principal, params, body }) => core.discovered.adopt(principal, params.mac, body),
    }),
    // ---- images
    endpoint({
      method: 'GET',
      path: '/api/v1/images',
      response: imageListSchema,
      summary: 'Images booting hosts get (ramdisk, installer netboot files, disk images): files, sizes, sha256, source, ready',
      tag: 'images',
      handler: ({ core, principal }) => ({ list: core.images.list(principal) }),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/images/:name',
      response: imageSchema,
      summary: 'One image',
      tag: 'images',
      params: z.object({ name: z.string().max(64) }).strict(),
      handler: ({ core, principal, params }) => core.images.show(principal, params.name),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/images',
      response: taskSchema,
      summary: 'Import an image from a URL or a file on this host, checked against its sha256 (a task: downloads resume)',
      tag: 'images',
      body: imageImportSchema,
      status: 202,
      handler: ({ core, principal, body }) => core.images.import(principal, body),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/images/build',
      response: taskSchema,
      summary: "Build the rackhand ramdisk from this machine's Debian packages (a task)",
      tag: 'images',
      status: 202,
      handler: ({ core, principal }) => core.images.build(principal),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/images/:name/verify',
      response: taskSchema,
      summary: "Re-hash an image's files against the recorded sha256 (a task)",
      tag: 'images',
      params: z.object({ name: z.string().max(64) }).strict(),
      status: 202,
      handler: ({ core, principal, params }) => core.images.verify(principal, params.name),
    }),
    endpoint({
      method: 'DELETE',
      path: '/api/v1/images/:name',
      summary: 'Remove an image (refused while a host is armed to boot it)',
      tag: 'images',
      params: z.object({ name: z.string().max(64) }).strict(),
      status: 204,
      handler: ({ core, principal, params, res }) => {
        core.images.remove(principal, params.name);
        res.status(204).end();
      },
    }),
    // ---- consoles
    endpoint({
      method: 'POST',
      path: '/api/v1/servers/:id/console',
      response: consoleOpenedSchema,
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
      response: consoleStoppedSchema,
      summary: 'End every console session of the server and close its viewers',
      tag: 'console',
      params: idParams,
      handler: ({ core, principal, params }) => core.consoles.stop(principal, params.id),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/servers/:id/console/sessions',
      response: consoleSessionsSchema,
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
      response: taskListSchema,
      summary: 'List tasks, newest first',
      tag: 'tasks',
      query: taskListQuery,
      handler: ({ core, principal, query }) =>
        core.tasks.list(principal, { serverId: query.server, state: query.state, kind: query.kind, ...pageFrom(query) }),
    }),
    endpoint({
      method: 'GET',
      path: '/api/v1/tasks/:id',
      response: taskSchema,
      summary: 'One task with its step journal',
      tag: 'tasks',
      params: idParams,
      handler: ({ core, principal, params }) => core.tasks.show(principal, params.id),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/tasks/:id/cancel',
      response: taskSchema,
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
      response: userListSchema,
      summary: 'List users (server owners; paged)',
      tag: 'users',
      query: pageOnly,
      handler: ({ core, principal, query }) => core.servers.listUsers(principal, pageFrom(query)),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/users',
      response: userSchema,
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
      response: tokenListSchema,
      summary: 'List tokens (never their values; paged)',
      tag: 'auth',
      query: pageOnly,
      handler: ({ core, principal, query }) => pageOf(core.tokens.list(principal), pageFrom(query)),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/tokens',
      response: tokenCreatedSchema,
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
    // ---- audit
    endpoint({
      method: 'GET',
      path: '/api/v1/audit',
      response: auditListSchema,
      summary: 'The audit log (admins): every mutating request on every face — token, route, server, task, remote address, status and error code — newest first',
      tag: 'auth',
      query: z
        .object({
          server: intParam.optional(),
          task: intParam.optional(),
          // token_id, not token: `token` in a query is the caller's own credential
          token_id: intParam.optional(),
          result: z.enum(['ok', 'error']).optional(),
          since: z.iso.datetime().optional(),
          until: z.iso.datetime().optional(),
          limit: intParam.pipe(z.number().min(1).max(1000)).optional(),
          offset: intParam.optional(),
        })
        .strict(),
      handler: ({ core, principal, query: q }) =>
        core.audit.list(principal, {
          serverId: q.server,
          taskId: q.task,
          tokenId: q.token_id,
          result: q.result,
          // as stored: ISO in UTC with milliseconds, so text order is time order
          since: q.since && new Date(q.since).toISOString(),
          until: q.until && new Date(q.until).toISOString(),
          limit: q.limit,
          offset: q.offset,
        }),
    }),
    // ---- switches
    endpoint({
      method: 'GET',
      path: '/api/v1/switches',
      response: switchListSchema,
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
      response: switchSchema,
      summary: 'One switch',
      tag: 'switches',
      params: z.object({ name: switchNameSchema }).strict(),
      handler: ({ core, principal, params }) => v1Switch(core.switchPorts.get(principal, params.name)),
    }),
    endpoint({
      method: 'POST',
      path: '/api/v1/switches',
      response: switchSchema,
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
      response: z.object({ deleted: z.string() }).strict(),
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
