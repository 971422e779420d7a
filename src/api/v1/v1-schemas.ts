// The /api/v1 answers as zod schemas: each row's `response`, rendered into the OpenAPI document. Objects are strict,
// so the test that checks every row's real answer against its schema catches a field the document does not name.
import { z } from 'zod';
import { BMC_DRIVERS, BOOT_VIA, SERVER_STATUSES } from '../../domain/server.js';
import { ROLES } from '../../auth/tokens.js';
import { TASK_STATES } from '../../store/repos/tasks-repo.js';
import { IMPORT_MODES } from '../../core/servers.js';

const int = z.number().int();
const time = z.string().describe('ISO 8601 time (UTC)');
const set = z.enum(['set', 'not set']);

export const serverSchema = z
  .object({
    id: int,
    name: z.string(),
    status: z.enum(SERVER_STATUSES),
    type: z.string(),
    location: z.string(),
    locationId: int.nullable(),
    datacenter: z.string(),
    rack: z.string(),
    rackPosition: int.nullable(),
    configuration: z.string(),
    preset: z.string(),
    os: z.object({ id: int, name: z.string() }).strict().nullable(),
    ownerId: int.nullable(),
    tags: z.array(z.object({ tag: z.string(), value: z.string() }).strict()),
    groups: z.array(z.object({ id: int, name: z.string() }).strict()),
    hardware: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))),
    interfaces: z.array(
      z.object({ id: int, name: z.string(), mac: z.string(), ip: z.string().nullable(), switch: z.string().nullable(), switchPort: z.string().nullable() }).strict(),
    ),
    bmc: z
      .object({
        driver: z.enum(BMC_DRIVERS),
        host: z.string(),
        port: int,
        username: z.string(),
        passwordSet: z.boolean().describe('the password itself is write-only'),
        model: z.string(),
        mac: z.string().nullable(),
        cipherSuite: int,
        privilege: z.enum(['user', 'operator', 'administrator']),
        scheme: z.enum(['https', 'http']).describe('redfish: https (certificate pinned on first use) or http'),
        legacyTls: z.boolean().describe('redfish: TLS 1.0/1.1 and weak keys accepted for this BMC'),
      })
      .strict()
      .nullable(),
    console: z.object({ type: z.literal('vnc'), host: z.string(), port: int, passwordSet: z.boolean() }).strict().nullable(),
    billing: z
      .object({ recurring: z.number().nullable(), nextDueDate: z.string().nullable(), billingCycle: z.string().nullable() })
      .strict()
      .describe("central's billing facts (eq update_servers); written as recurring, nextduedate, billingcycle; null: not given"),
    bootVia: z.enum(BOOT_VIA).describe('how deploys boot the host unless a request says: pxe, virtual_media (its boot ISO) or http (UEFI HTTP boot)'),
    power: z
      .object({
        state: z.enum(['on', 'off', 'unknown']),
        readAt: time.nullable(),
        bmcReachable: z.boolean().nullable().describe('null: never checked'),
        bmcError: z.string().nullable().describe('the last BMC call\'s error code (BMC_AUTH_FAILED, BMC_UNREACHABLE, BMC_TIMEOUT…); null after a success'),
      })
      .strict()
      .describe('read-only: ignored when sent back'),
    suspended: z.boolean().describe('read-only: switch ports down'),
    createdAt: time,
    updatedAt: time,
  })
  .strict();

export const netbootViewSchema = z.union([
  z.object({ armed: z.literal(false) }).strict().describe('nothing armed: the host boots from disk'),
  z
    .object({ armed: z.boolean(), purpose: z.string(), osId: z.string(), armedAt: time, callbackAt: time.nullable(), task: int.nullable() })
    .strict()
    .describe('armed, or (armed false, callbackAt set) the installer called back'),
]);

export const serverDetailSchema = serverSchema.extend({ netboot: netbootViewSchema }).strict();

export const serverListSchema = z.object({ servers: z.array(serverSchema), total: int }).strict();

const fieldChange = z.object({ field: z.string(), from: z.unknown(), to: z.unknown() }).strict();
export const importResultSchema = z
  .object({
    created: int,
    updated: int,
    dry_run: z.literal(true).optional(),
    mode: z.enum(IMPORT_MODES).optional(),
    unchanged: int.optional(),
    servers: z.array(z.object({ id: int, name: z.string(), action: z.enum(['create', 'update', 'unchanged']), changes: z.array(fieldChange) }).strict()).optional(),
  })
  .strict()
  .describe('dry_run: updated counts the servers that would change, unchanged the others, servers the changes of each');

export const taskStepSchema = z
  .object({
    seq: int,
    at: time,
    name: z.string(),
    state: z.enum(['started', 'succeeded', 'failed', 'note']),
    message: z.string(),
    result: z.unknown().optional(),
  })
  .strict();

export const taskSchema = z
  .object({
    id: int,
    kind: z.string(),
    serverId: int.nullable(),
    mutating: z.boolean(),
    params: z.record(z.string(), z.unknown()),
    state: z.enum(TASK_STATES),
    result: z.unknown(),
    error: z.object({ code: z.string(), message: z.string() }).strict().nullable(),
    requestedBy: z.string(),
    createdAt: time,
    startedAt: time.nullable(),
    finishedAt: time.nullable(),
    waitingFor: z.string().nullable().describe('a running task waiting for this signal resumes after a restart'),
    waitDeadline: time.nullable(),
    steps: z.array(taskStepSchema).describe('the step journal (empty in lists)'),
  })
  .strict();

export const taskListSchema = z.object({ tasks: z.array(taskSchema), total: int }).strict();

/** The data line of each event: `event: task` carries the task (without its journal), `event: step` one step. */
export const taskEventSchema = z.union([
  taskSchema.describe('event: task — the task as it is now'),
  z.object({ taskId: int, serverId: int.nullable(), step: taskStepSchema }).strict().describe('event: step — a journal entry of a task'),
]);

const sensorStatus = z.enum(['ok', 'warning', 'critical', 'unavailable']);
const sensorReading = z
  .object({
    name: z.string(),
    type: z.string(),
    value: z.number().nullable(),
    unit: z.string(),
    status: sensorStatus,
    thresholds: z
      .object({
        lowerNonRecoverable: z.number().optional(),
        lowerCritical: z.number().optional(),
        lowerNonCritical: z.number().optional(),
        upperNonCritical: z.number().optional(),
        upperCritical: z.number().optional(),
        upperNonRecoverable: z.number().optional(),
      })
      .strict(),
  })
  .strict();

export const sensorsReadSchema = z.object({ task: int, read_at: time.nullable(), sensors: z.array(sensorReading) }).strict();

export const eventLogSchema = z
  .object({
    task: int,
    read_at: time.nullable(),
    entries: z
      .array(
        z
          .object({
            id: z.string().describe("the BMC's id of the entry (IPMI: the SEL record id)"),
            time: time.nullable().describe("when the BMC logged it; null when its clock was not set"),
            severity: z.enum(['ok', 'warning', 'critical']),
            message: z.string(),
            raw: z.string().describe('the entry as the BMC sent it (IPMI: the 16 record bytes as hex; Redfish: the LogEntry as JSON)'),
          })
          .strict(),
      )
      .describe('oldest first'),
  })
  .strict();

export const sensorHistorySchema = z
  .object({
    server_id: int,
    from: time,
    to: time,
    sensors: z.array(
      z
        .object({ name: z.string(), type: z.string(), unit: z.string(), points: z.array(z.object({ at: time, value: z.number().nullable(), status: sensorStatus }).strict()) })
        .strict(),
    ),
  })
  .strict();

export const powerSyncSchema = z.object({ read: int, unreachable: int }).strict();

export const sensorSyncSchema = z
  .object({
    servers: int.describe('servers with a BMC'),
    read: int,
    failed: int.describe("BMCs that did not answer (each logged at debug); their history has no sample from this pass"),
    stored: int.describe('readings stored'),
    pruned: int.describe('readings past sensors.retentionDays removed'),
  })
  .strict();

export const bmcUserAddedSchema = z
  .object({ task: taskSchema, username: z.string(), password: z.string().describe('shown this once, kept nowhere'), privilege: z.enum(['user', 'operator', 'administrator']) })
  .strict();

const certificatePin = z
  .object({
    fingerprint256: z.string().describe('SHA-256 of the DER certificate, hex pairs joined by colons'),
    subject: z.string(),
    validTo: z.string(),
    pinnedAt: time,
  })
  .strict();
export const bmcCertificateSchema = z
  .object({
    server: int,
    endpoint: z.string().describe('host:port of the BMC'),
    pinned: certificatePin.nullable().describe('null: none yet; the next connection pins the certificate the BMC shows'),
  })
  .strict();
export const bmcCertificateForgottenSchema = bmcCertificateSchema
  .extend({ pinned: z.null(), forgotten: certificatePin.nullable().describe('the pin that was dropped (null: there was none)') })
  .strict();

export const osListSchema = z
  .object({
    list: z.array(
      z
        .object({
          id: int.nullable(),
          os_id: z.string(),
          name: z.string(),
          family: z.string(),
          ready: z.boolean().describe('every image it boots is imported: a reinstall can be armed'),
          missing: z
            .array(z.object({ image: z.string(), file: z.string(), state: z.enum(['ok', 'missing', 'corrupt']), detail: z.string().optional() }).strict())
            .describe('what to import first (rackhand images import / build): each image file missing or damaged'),
        })
        .strict(),
    ),
    total: int,
  })
  .strict();

export const discoveredListSchema = z
  .object({
    list: z.array(
      z
        .object({
          mac: z.string(),
          arch: int.optional().describe('DHCP option 93'),
          vendorClass: z.string().optional(),
          userClass: z.string().optional(),
          uuid: z.string().optional(),
          relay: z.string().optional(),
          firstSeen: time,
          lastSeen: time,
          seenCount: int,
        })
        .strict(),
    ),
    total: int,
    limit: int,
    offset: int,
  })
  .strict();

export const bootHistorySchema = z
  .object({
    list: z.array(
      z
        .object({
          id: int,
          at: time,
          serverId: int.nullable(),
          mac: z.string().nullable(),
          ip: z.string(),
          kind: z.string().describe('dhcp-offer, dhcp-ack, dhcp-nak, dhcp-ignored, … tftp-read, tftp-refused, … http-script, http-script-refused, http-config, installer-report'),
          detail: z.string(),
        })
        .strict(),
    ),
    total: int,
  })
  .strict();

export const consoleOpenedSchema = z
  .object({ key: z.string(), session_id: int, url: z.string().describe('the console page with a single-use ticket'), expires_at: time })
  .strict();

export const consoleStoppedSchema = z.object({ stopped: int }).strict();

export const consoleSessionsSchema = z
  .object({
    list: z.array(
      z
        .object({
          id: int,
          serverId: int,
          openedBy: z.string(),
          whiteIp: z.string().nullable(),
          createdAt: time,
          expiresAt: time,
          endedAt: time.nullable(),
          endReason: z.string().nullable(),
          connections: int,
          bytesUp: int,
          bytesDown: int,
          lastRemote: z.string().nullable(),
        })
        .strict(),
    ),
    total: int,
  })
  .strict();

export const userSchema = z
  .object({
    id: int,
    email: z.string(),
    fullName: z.string(),
    phoneNumber: z.string(),
    role: z.string(),
    vlansPerUser: int,
    serverCount: int,
    createdAt: time,
  })
  .strict();

export const userListSchema = z.object({ list: z.array(userSchema), total: int }).strict();

export const tokenInfoSchema = z
  .object({ id: int, name: z.string(), role: z.enum(ROLES), ownerId: int.nullable(), createdAt: time, lastUsedAt: time.nullable(), revokedAt: time.nullable() })
  .strict();

export const tokenListSchema = z.object({ list: z.array(tokenInfoSchema), total: int }).strict();

export const tokenCreatedSchema = tokenInfoSchema.extend({ token: z.string().describe('shown this once; only its hash is kept') }).strict();

export const whoamiSchema = z.object({ name: z.string(), role: z.enum(ROLES), owner_id: int.nullable() }).strict();

export const auditListSchema = z
  .object({
    list: z.array(
      z
        .object({
          id: int,
          at: time,
          tokenId: int.nullable().describe('null: no valid token was presented'),
          tokenName: z.string().nullable(),
          role: z.string().nullable(),
          face: z.string(),
          method: z.string(),
          route: z.string().describe('the route pattern, e.g. /api/v1/servers/:id/power'),
          action: z.string().nullable().describe('eq: the action'),
          serverId: int.nullable(),
          taskId: int.nullable(),
          remote: z.string(),
          status: int,
          errorCode: z.string().nullable(),
        })
        .strict(),
    ),
    total: int,
  })
  .strict();

export const switchSchema = z
  .object({
    id: int,
    name: z.string(),
    address: z.string(),
    version: z.enum(['v2c', 'v3']),
    community: set,
    user: z.string().nullable(),
    auth_protocol: z.literal('sha'),
    auth_key: set,
    priv_protocol: z.literal('aes'),
    priv_key: set,
    note: z.string(),
    created_at: time,
    updated_at: time,
  })
  .strict();

export const switchListSchema = z.object({ switches: z.array(switchSchema), total: int }).strict();

const imageFileSchema = z
  .object({
    file: z.string(),
    sha256: z.string().describe('of the bytes served'),
    sizeBytes: int,
    format: z.enum(['raw', 'raw.gz', 'raw.zst', 'raw.xz']).optional().describe('disk images: how the served bytes are encoded'),
  })
  .strict();

export const imageSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['ramdisk', 'netboot', 'disk']),
    source: z.string().describe('a file, a URL, a Debian package and version, or "built"'),
    files: z.array(imageFileSchema).describe('served as /boot/images/<name>/<file>'),
    manifest: z.unknown().describe("the ramdisk's build manifest (packages, versions, hashes); null otherwise"),
    os: z.object({ ids: z.array(int), name: z.string() }).strict().nullable().describe('a disk image offered as an operating system'),
    createdAt: time,
    ready: z.boolean().describe('every file present with its recorded size (a full check re-hashes: POST …/verify)'),
    problems: z.array(z.object({ file: z.string(), state: z.enum(['ok', 'missing', 'corrupt']), detail: z.string().optional() }).strict()),
  })
  .strict();

export const imageListSchema = z.object({ list: z.array(imageSchema) }).strict();

/** The ramdisk's inspection as the agent reported it (ramdisk/PROTOCOL.md): typed at the top, open below. */
export const hardwareSchema = z
  .object({
    inventory: z
      .object({
        system: z.record(z.string(), z.unknown()).optional(),
        firmware: z.record(z.string(), z.unknown()).optional(),
        cpus: z.record(z.string(), z.unknown()).optional(),
        memoryBytes: z.number().optional(),
        disks: z.array(z.record(z.string(), z.unknown())).optional(),
        nics: z.array(z.record(z.string(), z.unknown())).optional(),
        health: z.record(z.string(), z.unknown()).optional(),
      })
      .passthrough(),
    inspectedAt: time,
    taskId: int.nullable(),
  })
  .strict();
