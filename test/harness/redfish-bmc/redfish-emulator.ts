// Test harness: an emulated Redfish BMC over HTTPS (or HTTP) for one machine (a qemu VM or an in-memory one): service
// root and links, sessions and Basic auth, accounts and roles, power and boot override, virtual media, sensors
// (Thermal/Power and the Sensors collection), log services, manager reset, ETags, task monitors, and the field's
// quirks, each switchable at run time through `quirks`.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet, createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { get as httpsGet, createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BOOT_TARGETS, type BootChoice, type BootMode, type BootTarget, type EmulatedMachine } from './emulated-machine.js';
import { badRequest, conflict, errorBody, forbidden, notFound, RedfishHttpError, unauthorized } from './redfish-errors.js';
import { sharedTestCert, type SelfSignedCert } from './self-signed-cert.js';

/** Field behaviours the emulator can play; all off by default (a well-behaved BMC). */
export interface RedfishQuirks {
  /** This many PATCHes that set a one-time UEFI PXE override are answered 200 and then silently reverted. */
  revertOnceUefiPxe: number;
  /** When the revert happens: 0 = right after the answer, else that many ms later. */
  revertAfterMs: number;
  /** Boot has no BootSourceOverrideMode; a PATCH that names it is refused. */
  noBootOverrideMode: boolean;
  /** A Boot PATCH with anything besides BootSourceOverrideEnabled + BootSourceOverrideTarget is refused. */
  minimalBootPatch: boolean;
  /** EjectMedia leaves Image/ImageName behind, which blocks InsertMedia until a PATCH {Image: null}. */
  staleImageAfterEject: boolean;
  /** Where the VirtualMedia collection hangs: under the Manager (older firmware) or the System (newer). */
  virtualMediaAt: 'Managers' | 'Systems';
  /** PATCH without If-Match is refused with 428. */
  etagRequired: boolean;
  /** No SessionService: Basic auth only. */
  noSessionService: boolean;
  /** Basic auth refused: sessions only. */
  noBasicAuth: boolean;
  /** Reset and InsertMedia answer 202 with a task monitor and finish in the background. */
  asyncTasks: boolean;
  /** Which sensor resources exist: Thermal/Power (legacy), the Sensors collection (modern), or both. */
  sensors: 'both' | 'legacy' | 'modern';
  /**
   * Supermicro X11/X12: the virtual CD is a USB CD. A one-time Cd override boots the board's own (empty) CD drive;
   * only UsbCd boots the virtual media. The board says Manufacturer "Supermicro" and offers UsbCd.
   */
  virtualCdIsUsbCd: boolean;
}

export const WELL_BEHAVED: Readonly<RedfishQuirks> = Object.freeze({
  revertOnceUefiPxe: 0,
  revertAfterMs: 0,
  noBootOverrideMode: false,
  minimalBootPatch: false,
  staleImageAfterEject: false,
  virtualMediaAt: 'Managers',
  etagRequired: false,
  noSessionService: false,
  noBasicAuth: false,
  asyncTasks: false,
  sensors: 'both',
  virtualCdIsUsbCd: false,
});

export type RoleId = 'Administrator' | 'Operator' | 'ReadOnly';
type Privilege = 'Login' | 'ConfigureComponents' | 'ConfigureManager' | 'ConfigureUsers' | 'ConfigureSelf';
const ROLE_PRIVILEGES: Record<RoleId, Privilege[]> = {
  Administrator: ['Login', 'ConfigureComponents', 'ConfigureManager', 'ConfigureUsers', 'ConfigureSelf'],
  Operator: ['Login', 'ConfigureComponents', 'ConfigureSelf'],
  ReadOnly: ['Login', 'ConfigureSelf'],
};

export interface EmulatedAccount {
  id: string;
  userName: string;
  password: string;
  roleId: RoleId;
  enabled: boolean;
}

interface Session {
  id: string;
  token: string;
  account: EmulatedAccount;
  lastUse: number;
}

export interface EmulatedLogEntry {
  id: number;
  created: string;
  severity: 'OK' | 'Warning' | 'Critical';
  message: string;
  messageId: string;
  sensorType?: string;
  entryCode?: string;
}

interface Task {
  id: string;
  name: string;
  state: 'Running' | 'Completed' | 'Exception';
  start: string;
  end?: string;
  messages: string[];
}

export interface EmulatedSensor {
  id: string;
  name: string;
  kind: 'Temperature' | 'Fan' | 'Voltage';
  value: number;
  lowerCritical?: number;
  upperCaution?: number;
  upperCritical?: number;
  upperFatal?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  auth: 'session' | 'basic' | 'none';
  ifMatch?: string;
  status: number;
  body?: unknown;
}

export interface RedfishEmulatorOptions {
  machine: EmulatedMachine;
  username?: string; // default admin
  password?: string; // default password
  /** HTTPS (default) with this certificate (default: one shared self-signed certificate), or plain HTTP. */
  tls?: boolean;
  cert?: SelfSignedCert;
  /** Old firmware: TLS 1.0 only, weak ciphers allowed (pair it with makeLegacyCert()). */
  legacyTls?: boolean;
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (a free one)
  quirks?: Partial<RedfishQuirks>;
  /** Member ids; default odd-looking random ones, so a client that hard-codes "1" or "System.Embedded.1" fails. */
  ids?: { system?: string; manager?: string; chassis?: string };
  vendor?: { manufacturer?: string; model?: string; serial?: string; bmcFirmware?: string; biosVersion?: string };
  /** SessionTimeout in seconds (sessions idle longer are gone). Default 300. */
  sessionTimeoutS?: number;
  /** Sessions the BMC holds at once; one more gets 503 SessionLimitExceeded. Default 16. */
  maxSessions?: number;
  /** How long a Manager.Reset keeps the BMC off the network. Default 1500 ms. */
  managerResetDowntimeMs?: number;
  /** With quirks.asyncTasks: how long a task waits in the BMC's job queue before it runs. Default 300 ms. */
  taskLatencyMs?: number;
}

const ROOT = '/redfish/v1';
const ref = (path: string) => ({ '@odata.id': path });
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function etagOf(resource: unknown): string {
  return `W/"${createHash('sha1').update(JSON.stringify(resource)).digest('hex').slice(0, 16)}"`;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const DEFAULT_SENSORS: EmulatedSensor[] = [
  { id: 'CPU1_Temp', name: 'CPU1 Temp', kind: 'Temperature', value: 45, upperCaution: 80, upperCritical: 90, upperFatal: 95 },
  { id: 'Inlet_Temp', name: 'Inlet Temp', kind: 'Temperature', value: 24, upperCaution: 40, upperCritical: 45 },
  { id: 'FAN1', name: 'FAN1', kind: 'Fan', value: 4800, lowerCritical: 500 },
  { id: 'VOLT_12V', name: '12V', kind: 'Voltage', value: 12, lowerCritical: 10.8, upperCritical: 13.2 },
];

export class RedfishEmulator {
  readonly quirks: RedfishQuirks;
  readonly machine: EmulatedMachine;
  readonly systemId: string;
  readonly managerId: string;
  readonly chassisId: string;
  readonly accounts: EmulatedAccount[];
  readonly sessions = new Map<string, Session>(); // by token
  readonly sel: EmulatedLogEntry[] = [];
  readonly journal: EmulatedLogEntry[] = [];
  readonly sensors: EmulatedSensor[] = DEFAULT_SENSORS.map((s) => ({ ...s }));
  readonly requests: RecordedRequest[] = [];
  /** The boot override as the BMC holds it (the independent truth tests compare with). */
  readonly boot: { enabled: 'Disabled' | 'Once' | 'Continuous'; target: BootTarget; mode: BootMode; httpBootUri: string };
  readonly media: { image: string | null; imageName: string; inserted: boolean; writeProtected: boolean };
  /** Manager.Reset count; times the BMC was off the network. */
  managerResets = 0;
  /** Watts the host draws when on / off (PowerControl, the Power sensor). */
  power = { onWatts: 142, offWatts: 9 };
  /** False: a board without power metering (no PowerConsumedWatts, no power sensor). */
  measuresPower = true;
  /** False: firmware older than Redfish 2019.1, whose Boot has no HttpBootUri (UEFI HTTP boot asks DHCP). */
  offersHttpBootUri = true;
  /** ResetType values the system offers (a board without PowerCycle, …). */
  resetTypes: string[] = [...RESET_TYPES];
  /** BootSourceOverrideTarget values the system offers. */
  bootTargets: string[] = BOOT_TARGETS.filter((t) => t !== 'UsbCd');
  /** The next If-Match check fails with 412, as if another client had changed the resource in between. */
  staleEtagOnce = false;
  readonly vendor: Required<NonNullable<RedfishEmulatorOptions['vendor']>>;

  private server: Server | HttpsServer | undefined;
  private cert: SelfSignedCert;
  private readonly tls: boolean;
  private readonly host: string;
  private boundPort = 0;
  private readonly sockets = new Set<Socket>();
  private readonly tasks = new Map<string, Task>();
  private nextId = { session: 1, account: 2, log: 1, task: 1 };
  private readonly mediaDir = mkdtempSync(join(tmpdir(), `rh-rfmedia-${process.pid}-`));
  private down = false;
  private readonly uuid: string;

  constructor(private readonly opts: RedfishEmulatorOptions) {
    this.machine = opts.machine;
    this.quirks = { ...WELL_BEHAVED, ...opts.quirks };
    const tag = randomBytes(3).toString('hex');
    this.systemId = opts.ids?.system ?? `node-${tag}`;
    this.managerId = opts.ids?.manager ?? `bmc-${tag}`;
    this.chassisId = opts.ids?.chassis ?? `enclosure-${tag}`;
    this.uuid = `4c4c4544-0000-4000-8000-${randomBytes(6).toString('hex')}`;
    this.accounts = [{ id: '1', userName: opts.username ?? 'admin', password: opts.password ?? 'password', roleId: 'Administrator', enabled: true }];
    this.boot = { enabled: 'Disabled', target: 'None', mode: opts.machine.nativeMode, httpBootUri: '' };
    this.media = { image: null, imageName: '', inserted: false, writeProtected: true };
    this.tls = opts.tls ?? true;
    this.cert = opts.cert ?? sharedTestCert();
    this.host = opts.host ?? '127.0.0.1';
    this.vendor = {
      manufacturer: opts.vendor?.manufacturer ?? 'Rackhand Labs',
      model: opts.vendor?.model ?? 'RH-1000 Emulated',
      serial: opts.vendor?.serial ?? `SN${tag.toUpperCase()}`,
      bmcFirmware: opts.vendor?.bmcFirmware ?? '2.41.7',
      biosVersion: opts.vendor?.biosVersion ?? '1.9.3',
    };
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://${this.host}:${this.boundPort}`;
  }

  get certificate(): SelfSignedCert {
    return this.cert;
  }

  get systemPath(): string {
    return `${ROOT}/Systems/${this.systemId}`;
  }

  get managerPath(): string {
    return `${ROOT}/Managers/${this.managerId}`;
  }

  get chassisPath(): string {
    return `${ROOT}/Chassis/${this.chassisId}`;
  }

  get virtualMediaPath(): string {
    return `${this.quirks.virtualMediaAt === 'Systems' ? this.systemPath : this.managerPath}/VirtualMedia`;
  }

  async start(): Promise<this> {
    await this.listen(this.opts.port ?? 0);
    return this;
  }

  async stop(): Promise<void> {
    await this.closeServer();
    rmSync(this.mediaDir, { recursive: true, force: true });
  }

  /** Present another certificate from now on (a BMC whose certificate was replaced, or a man in the middle). */
  rotateCertificate(cert: SelfSignedCert): void {
    this.cert = cert;
    (this.server as HttpsServer | undefined)?.setSecureContext({ key: cert.key, cert: cert.cert });
    for (const s of this.sockets) s.destroy(); // no resumed connection keeps the old one
  }

  /** An event in the system event log, as the hardware would raise one. */
  addLogEntry(e: Omit<EmulatedLogEntry, 'id' | 'created'> & { created?: string }): EmulatedLogEntry {
    const entry = { id: this.nextId.log++, created: e.created ?? now(), ...e };
    this.sel.push(entry);
    return entry;
  }

  setSensor(name: string, value: number): void {
    const s = this.sensors.find((x) => x.name === name);
    if (!s) throw new Error(`no sensor ${name}`);
    s.value = value;
  }

  // ------------------------------------------------------------------ server

  private async listen(port: number): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    };
    const legacy = this.opts.legacyTls ? { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' } as const : {};
    const server = this.tls ? createHttpsServer({ key: this.cert.key, cert: this.cert.cert, ...legacy }, handler) : createHttpServer(handler);
    server.keepAliveTimeout = 30_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('clientError', (_e, s) => s.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as { port: number }).port;
  }

  private async closeServer(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const sock of this.sockets) sock.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let path = (req.url ?? '/').split('?')[0]!;
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const record: RecordedRequest = { method, path, auth: 'none', status: 0 };
    if (typeof req.headers['if-match'] === 'string') record.ifMatch = req.headers['if-match'];
    this.requests.push(record);
    if (this.requests.length > 5000) this.requests.splice(0, 1000);
    let status = 200;
    let body: unknown;
    let headers: Record<string, string> = {};
    try {
      const raw = await readBody(req);
      const json = parseJson(raw, method);
      record.body = json;
      const out = await this.route(method, path, req, json, record);
      status = out.status ?? 200;
      body = out.body;
      headers = out.headers ?? {};
    } catch (e) {
      const err = e instanceof RedfishHttpError ? e : new RedfishHttpError(500, 'InternalError', (e as Error).message);
      status = err.status;
      body = errorBody(err);
      headers = err.headers;
    }
    record.status = status;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    res.writeHead(status, {
      'OData-Version': '4.0',
      'Cache-Control': 'no-cache',
      ...(payload !== undefined ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(payload)) } : {}),
      ...headers,
    });
    res.end(method === 'HEAD' ? undefined : payload);
  }

  // ------------------------------------------------------------------ routing

  private async route(method: string, path: string, req: IncomingMessage, body: unknown, record: RecordedRequest): Promise<Reply> {
    const get = method === 'GET' || method === 'HEAD';
    // Public: versions, service root, OData service document, login.
    if (path === '/redfish' && get) return { body: { v1: `${ROOT}/` } };
    if (path === ROOT && get) return this.withEtag(this.serviceRoot());
    if (path === `${ROOT}/odata` && get) return { body: this.odata() };
    const sessionsPath = `${ROOT}/SessionService/Sessions`;
    if (path === sessionsPath && method === 'POST' && !this.quirks.noSessionService) return this.login(body);

    const who = this.authenticate(req, record);
    const need = (p: Privilege) => {
      if (!ROLE_PRIVILEGES[who.account.roleId].includes(p)) throw forbidden(p);
    };
    need('Login');

    const sys = this.systemPath;
    const mgr = this.managerPath;
    const ch = this.chassisPath;
    const vm = this.virtualMediaPath;
    const allow = (...methods: string[]): never => {
      throw new RedfishHttpError(405, 'OperationNotAllowed', `${method} is not allowed on ${path}`, [], { Allow: methods.join(', ') });
    };

    // --- collections and members reached by links
    if (path === `${ROOT}/Systems`) return get ? { body: collection(path, 'ComputerSystemCollection', 'Computer System Collection', [sys]) } : allow('GET');
    if (path === `${ROOT}/Managers`) return get ? { body: collection(path, 'ManagerCollection', 'Manager Collection', [mgr]) } : allow('GET');
    if (path === `${ROOT}/Chassis`) return get ? { body: collection(path, 'ChassisCollection', 'Chassis Collection', [ch]) } : allow('GET');

    if (path === sys) {
      if (get) return this.withEtag(this.system());
      if (method === 'PATCH') {
        need('ConfigureComponents');
        this.checkIfMatch(req, etagOf(this.system()));
        return this.patchSystem(body);
      }
      return allow('GET', 'PATCH');
    }
    if (path === `${sys}/Actions/ComputerSystem.Reset`) {
      if (method !== 'POST') return allow('POST');
      need('ConfigureComponents');
      return this.resetSystem(body);
    }
    if (path === `${sys}/ResetActionInfo` && get) return { body: this.resetActionInfo() };

    if (path === mgr) return get ? this.withEtag(this.manager()) : allow('GET');
    if (path === `${mgr}/Actions/Manager.Reset`) {
      if (method !== 'POST') return allow('POST');
      need('ConfigureManager');
      return this.resetManager(body);
    }

    if (path === ch) return get ? this.withEtag(this.chassis()) : allow('GET');
    if (path === `${ch}/Thermal` && this.quirks.sensors !== 'modern') return get ? this.withEtag(this.thermal()) : allow('GET');
    if (path === `${ch}/Power` && this.quirks.sensors !== 'modern') return get ? this.withEtag(this.powerResource()) : allow('GET');
    if (path === `${ch}/Sensors` && this.quirks.sensors !== 'legacy') {
      return get ? { body: collection(path, 'SensorCollection', 'Sensors', this.sensorResources().map((s) => s['@odata.id'] as string)) } : allow('GET');
    }
    if (path.startsWith(`${ch}/Sensors/`) && this.quirks.sensors !== 'legacy') {
      const s = this.sensorResources().find((x) => x['@odata.id'] === path);
      if (!s) throw notFound(path);
      return get ? this.withEtag(s) : allow('GET');
    }

    // --- virtual media (under the Manager or the System, per quirk)
    if (path === vm) return get ? { body: collection(path, 'VirtualMediaCollection', 'Virtual Media Services', [`${vm}/CD1`]) } : allow('GET');
    if (path === `${vm}/CD1`) {
      if (get) return this.withEtag(this.virtualMedia());
      if (method === 'PATCH') {
        need('ConfigureComponents');
        this.checkIfMatch(req, etagOf(this.virtualMedia()));
        return this.patchVirtualMedia(body);
      }
      return allow('GET', 'PATCH');
    }
    if (path === `${vm}/CD1/Actions/VirtualMedia.InsertMedia`) {
      if (method !== 'POST') return allow('POST');
      need('ConfigureComponents');
      return this.asTask('Insert virtual media', () => this.insertMedia(body));
    }
    if (path === `${vm}/CD1/Actions/VirtualMedia.EjectMedia`) {
      if (method !== 'POST') return allow('POST');
      need('ConfigureComponents');
      await this.ejectMedia();
      return { status: 204 };
    }

    // --- log services: the SEL under the System, the BMC's journal under the Manager
    for (const [owner, id, entries, name] of [
      [sys, 'SEL', this.sel, 'System Event Log'],
      [mgr, 'Journal', this.journal, 'BMC Journal'],
    ] as const) {
      const ls = `${owner}/LogServices`;
      if (path === ls) return get ? { body: collection(path, 'LogServiceCollection', 'Log Services', [`${ls}/${id}`]) } : allow('GET');
      if (path === `${ls}/${id}`) return get ? this.withEtag(this.logService(`${ls}/${id}`, id, name, entries.length)) : allow('GET');
      if (path === `${ls}/${id}/Entries`) {
        return get ? { body: { ...collection(path, 'LogEntryCollection', `${name} Entries`, []), 'Members@odata.count': entries.length, Members: entries.map((e) => logEntry(`${path}/${e.id}`, e, id)) } } : allow('GET');
      }
      if (path.startsWith(`${ls}/${id}/Entries/`)) {
        const e = entries.find((x) => `${ls}/${id}/Entries/${x.id}` === path);
        if (!e) throw notFound(path);
        return get ? { body: logEntry(path, e, id) } : allow('GET');
      }
      if (path === `${ls}/${id}/Actions/LogService.ClearLog`) {
        if (method !== 'POST') return allow('POST');
        need('ConfigureManager');
        entries.splice(0);
        return { status: 204 };
      }
    }

    // --- sessions
    if (path.startsWith(`${ROOT}/SessionService`) && this.quirks.noSessionService) throw notFound(path);
    if (path === `${ROOT}/SessionService`) {
      return get ? { body: { '@odata.type': '#SessionService.v1_1_8.SessionService', '@odata.id': path, Id: 'SessionService', Name: 'Session Service', ServiceEnabled: true, SessionTimeout: this.sessionTimeoutS, Sessions: ref(sessionsPath) } } : allow('GET');
    }
    if (path === sessionsPath) return get ? { body: collection(path, 'SessionCollection', 'Session Collection', [...this.sessions.values()].map((s) => `${path}/${s.id}`)) } : allow('GET', 'POST');
    if (path.startsWith(`${sessionsPath}/`)) {
      const s = [...this.sessions.values()].find((x) => `${sessionsPath}/${x.id}` === path);
      if (!s) throw notFound(path);
      if (get) return { body: { '@odata.type': '#Session.v1_6_0.Session', '@odata.id': path, Id: s.id, Name: 'User Session', UserName: s.account.userName } };
      if (method === 'DELETE') {
        if (s !== who.session) need('ConfigureManager');
        this.sessions.delete(s.token);
        return { status: 204 };
      }
      return allow('GET', 'DELETE');
    }

    // --- accounts and roles
    const as = `${ROOT}/AccountService`;
    if (path === as) {
      return get
        ? this.withEtag({ '@odata.type': '#AccountService.v1_13_0.AccountService', '@odata.id': path, Id: 'AccountService', Name: 'Account Service', ServiceEnabled: true, MinPasswordLength: 8, MaxPasswordLength: 20, Accounts: ref(`${as}/Accounts`), Roles: ref(`${as}/Roles`) })
        : allow('GET');
    }
    if (path === `${as}/Accounts`) {
      if (get) return { body: collection(path, 'ManagerAccountCollection', 'Accounts Collection', this.accounts.map((a) => `${path}/${a.id}`)) };
      if (method === 'POST') {
        need('ConfigureUsers');
        return this.createAccount(body);
      }
      return allow('GET', 'POST');
    }
    if (path.startsWith(`${as}/Accounts/`)) {
      const a = this.accounts.find((x) => `${as}/Accounts/${x.id}` === path);
      if (!a) throw notFound(path);
      if (get) return this.withEtag(this.account(a));
      if (method === 'PATCH') {
        const own = a === who.account;
        const fields = Object.keys(asObject(body));
        if (!(own && fields.every((f) => f === 'Password'))) need('ConfigureUsers');
        this.checkIfMatch(req, etagOf(this.account(a)));
        return this.patchAccount(a, body);
      }
      if (method === 'DELETE') {
        need('ConfigureUsers');
        if (a.roleId === 'Administrator' && this.accounts.filter((x) => x.roleId === 'Administrator' && x.enabled).length === 1 && a.enabled) {
          throw conflict('ResourceCannotBeDeleted', 'The last enabled Administrator account cannot be deleted.');
        }
        this.accounts.splice(this.accounts.indexOf(a), 1);
        for (const [t, s] of this.sessions) if (s.account === a) this.sessions.delete(t);
        return { status: 204 };
      }
      return allow('GET', 'PATCH', 'DELETE');
    }
    if (path === `${as}/Roles`) return get ? { body: collection(path, 'RoleCollection', 'Roles', Object.keys(ROLE_PRIVILEGES).map((r) => `${path}/${r}`)) } : allow('GET');
    if (path.startsWith(`${as}/Roles/`)) {
      const r = Object.keys(ROLE_PRIVILEGES).find((x) => `${as}/Roles/${x}` === path) as RoleId | undefined;
      if (!r) throw notFound(path);
      return get ? { body: { '@odata.type': '#Role.v1_3_1.Role', '@odata.id': path, Id: r, Name: `${r} Role`, RoleId: r, IsPredefined: true, AssignedPrivileges: ROLE_PRIVILEGES[r] } } : allow('GET');
    }

    // --- tasks
    const ts = `${ROOT}/TaskService`;
    if (path === ts) return get ? { body: { '@odata.type': '#TaskService.v1_2_0.TaskService', '@odata.id': path, Id: 'TaskService', Name: 'Task Service', ServiceEnabled: true, Tasks: ref(`${ts}/Tasks`) } } : allow('GET');
    if (path === `${ts}/Tasks`) return get ? { body: collection(path, 'TaskCollection', 'Tasks', [...this.tasks.keys()].map((id) => `${path}/${id}`)) } : allow('GET');
    if (path.startsWith(`${ts}/Tasks/`) || path.startsWith(`${ts}/TaskMonitors/`)) {
      const id = path.slice(path.lastIndexOf('/') + 1);
      const t = this.tasks.get(id);
      if (!t || !get) throw notFound(path);
      const monitor = path.startsWith(`${ts}/TaskMonitors/`);
      const body = this.task(t);
      if (monitor && t.state === 'Running') return { status: 202, body, headers: { Location: path, 'Retry-After': '1' } };
      return { status: 200, body };
    }

    // --- firmware inventory
    const us = `${ROOT}/UpdateService`;
    if (path === us) return get ? { body: { '@odata.type': '#UpdateService.v1_11_0.UpdateService', '@odata.id': path, Id: 'UpdateService', Name: 'Update Service', ServiceEnabled: true, FirmwareInventory: ref(`${us}/FirmwareInventory`) } } : allow('GET');
    if (path === `${us}/FirmwareInventory`) return get ? { body: collection(path, 'SoftwareInventoryCollection', 'Firmware Inventory', [`${path}/BMC`, `${path}/BIOS`]) } : allow('GET');
    if (path === `${us}/FirmwareInventory/BMC` || path === `${us}/FirmwareInventory/BIOS`) {
      const bmc = path.endsWith('BMC');
      return get
        ? { body: { '@odata.type': '#SoftwareInventory.v1_9_0.SoftwareInventory', '@odata.id': path, Id: bmc ? 'BMC' : 'BIOS', Name: bmc ? 'BMC Firmware' : 'System BIOS', Version: bmc ? this.vendor.bmcFirmware : this.vendor.biosVersion, Updateable: true, Status: { State: 'Enabled', Health: 'OK' } } }
        : allow('GET');
    }
    throw notFound(path);
  }

  // ------------------------------------------------------------------ auth

  private get sessionTimeoutS(): number {
    return this.opts.sessionTimeoutS ?? 300;
  }

  private expireSessions(): void {
    const cutoff = Date.now() - this.sessionTimeoutS * 1000;
    for (const [t, s] of this.sessions) if (s.lastUse < cutoff) this.sessions.delete(t);
  }

  private authenticate(req: IncomingMessage, record: RecordedRequest): { account: EmulatedAccount; session?: Session } {
    this.expireSessions();
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && !this.quirks.noSessionService) {
      const s = this.sessions.get(token);
      if (!s || !s.account.enabled) throw unauthorized();
      s.lastUse = Date.now();
      record.auth = 'session';
      return { account: s.account, session: s };
    }
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && /^basic /i.test(auth) && !this.quirks.noBasicAuth) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const a = this.findAccount(decoded.slice(0, colon), decoded.slice(colon + 1));
      if (colon < 0 || !a) throw unauthorized();
      record.auth = 'basic';
      return { account: a };
    }
    throw unauthorized();
  }

  private findAccount(user: string, password: string): EmulatedAccount | undefined {
    const a = this.accounts.find((x) => x.userName === user);
    return a && a.enabled && sameSecret(a.password, password) ? a : undefined;
  }

  private login(body: unknown): Reply {
    const b = asObject(body);
    if (typeof b.UserName !== 'string' || typeof b.Password !== 'string') {
      throw badRequest('ActionParameterMissing', 'UserName and Password are required to create a session.', ['#/UserName', '#/Password']);
    }
    const a = this.findAccount(b.UserName, b.Password);
    if (!a) throw new RedfishHttpError(401, 'ResourceAtUriUnauthorized', 'Login failed: invalid user name or password.');
    this.expireSessions();
    if (this.sessions.size >= (this.opts.maxSessions ?? 16)) {
      throw new RedfishHttpError(503, 'SessionLimitExceeded', 'The session establishment failed because the number of simultaneous sessions has been exceeded.');
    }
    const s: Session = { id: String(this.nextId.session++), token: randomBytes(24).toString('hex'), account: a, lastUse: Date.now() };
    this.sessions.set(s.token, s);
    const path = `${ROOT}/SessionService/Sessions/${s.id}`;
    return {
      status: 201,
      headers: { 'X-Auth-Token': s.token, Location: path },
      body: { '@odata.type': '#Session.v1_6_0.Session', '@odata.id': path, Id: s.id, Name: 'User Session', UserName: a.userName },
    };
  }

  private checkIfMatch(req: IncomingMessage, current: string): void {
    const im = req.headers['if-match'];
    if (typeof im !== 'string' || im.trim() === '') {
      if (this.quirks.etagRequired) throw new RedfishHttpError(428, 'PreconditionRequired', 'A precondition header (If-Match) is required for this request.');
      return;
    }
    if (im.trim() === '*') return;
    if (this.staleEtagOnce) {
      this.staleEtagOnce = false;
      throw new RedfishHttpError(412, 'PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.');
    }
    const strip = (t: string) => t.trim().replace(/^W\//, '');
    if (!im.split(',').map(strip).includes(strip(current))) {
      throw new RedfishHttpError(412, 'PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.');
    }
  }

  private withEtag(resource: Record<string, unknown>): Reply {
    const etag = etagOf(resource);
    return { body: { ...resource, '@odata.etag': etag }, headers: { ETag: etag } };
  }

  // ------------------------------------------------------------------ resources

  private serviceRoot(): Record<string, unknown> {
    return {
      '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot',
      '@odata.id': `${ROOT}/`,
      Id: 'RootService',
      Name: 'Root Service',
      RedfishVersion: '1.15.0',
      UUID: this.uuid,
      Product: this.vendor.model,
      Vendor: this.vendor.manufacturer,
      Systems: ref(`${ROOT}/Systems`),
      Managers: ref(`${ROOT}/Managers`),
      Chassis: ref(`${ROOT}/Chassis`),
      AccountService: ref(`${ROOT}/AccountService`),
      TaskService: ref(`${ROOT}/TaskService`),
      UpdateService: ref(`${ROOT}/UpdateService`),
      ...(this.quirks.noSessionService ? {} : { SessionService: ref(`${ROOT}/SessionService`), Links: { Sessions: ref(`${ROOT}/SessionService/Sessions`) } }),
    };
  }

  private odata(): unknown {
    return {
      '@odata.context': `${ROOT}/$metadata`,
      value: ['Systems', 'Managers', 'Chassis', 'AccountService', 'TaskService', 'UpdateService', ...(this.quirks.noSessionService ? [] : ['SessionService'])].map((n) => ({
        name: n,
        kind: 'Singleton',
        url: `${ROOT}/${n}`,
      })),
    };
  }

  private effectiveMode(): BootMode {
    return this.quirks.noBootOverrideMode ? this.machine.nativeMode : this.boot.mode;
  }

  private system(): Record<string, unknown> {
    const boot: Record<string, unknown> = {
      BootSourceOverrideEnabled: this.boot.enabled,
      BootSourceOverrideTarget: this.boot.target,
      'BootSourceOverrideTarget@Redfish.AllowableValues': this.quirks.virtualCdIsUsbCd ? [...this.bootTargets, 'UsbCd'] : [...this.bootTargets],
      ...(this.offersHttpBootUri ? { HttpBootUri: this.boot.httpBootUri } : {}),
    };
    if (!this.quirks.noBootOverrideMode) {
      boot.BootSourceOverrideMode = this.boot.mode;
      boot['BootSourceOverrideMode@Redfish.AllowableValues'] = ['Legacy', 'UEFI'];
    }
    return {
      '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem',
      '@odata.id': this.systemPath,
      Id: this.systemId,
      Name: 'System',
      SystemType: 'Physical',
      Manufacturer: this.quirks.virtualCdIsUsbCd ? 'Supermicro' : this.vendor.manufacturer,
      Model: this.vendor.model,
      SerialNumber: this.vendor.serial,
      UUID: this.uuid,
      BiosVersion: this.vendor.biosVersion,
      PowerState: this.machine.powerState(),
      Status: { State: 'Enabled', Health: 'OK' },
      Boot: boot,
      ProcessorSummary: { Count: 1, Model: 'QEMU Virtual CPU' },
      MemorySummary: { TotalSystemMemoryGiB: 0.25 },
      LogServices: ref(`${this.systemPath}/LogServices`),
      ...(this.quirks.virtualMediaAt === 'Systems' ? { VirtualMedia: ref(this.virtualMediaPath) } : {}),
      Links: { Chassis: [ref(this.chassisPath)], ManagedBy: [ref(this.managerPath)] },
      Actions: {
        '#ComputerSystem.Reset': {
          target: `${this.systemPath}/Actions/ComputerSystem.Reset`,
          'ResetType@Redfish.AllowableValues': [...this.resetTypes],
          '@Redfish.ActionInfo': `${this.systemPath}/ResetActionInfo`,
        },
      },
    };
  }

  private resetActionInfo(): unknown {
    return {
      '@odata.type': '#ActionInfo.v1_3_0.ActionInfo',
      '@odata.id': `${this.systemPath}/ResetActionInfo`,
      Id: 'ResetActionInfo',
      Name: 'Reset Action Info',
      Parameters: [{ Name: 'ResetType', Required: true, DataType: 'String', AllowableValues: [...this.resetTypes] }],
    };
  }

  private manager(): Record<string, unknown> {
    return {
      '@odata.type': '#Manager.v1_15_0.Manager',
      '@odata.id': this.managerPath,
      Id: this.managerId,
      Name: 'Manager',
      ManagerType: 'BMC',
      Manufacturer: this.vendor.manufacturer,
      Model: `${this.vendor.model} BMC`,
      FirmwareVersion: this.vendor.bmcFirmware,
      UUID: this.uuid.replace(/^4c/, '5c'),
      PowerState: 'On',
      Status: { State: 'Enabled', Health: 'OK' },
      LogServices: ref(`${this.managerPath}/LogServices`),
      ...(this.quirks.virtualMediaAt === 'Managers' ? { VirtualMedia: ref(this.virtualMediaPath) } : {}),
      Links: { ManagerForServers: [ref(this.systemPath)], ManagerForChassis: [ref(this.chassisPath)] },
      Actions: {
        '#Manager.Reset': { target: `${this.managerPath}/Actions/Manager.Reset`, 'ResetType@Redfish.AllowableValues': ['GracefulRestart', 'ForceRestart'] },
      },
    };
  }

  private chassis(): Record<string, unknown> {
    const q = this.quirks.sensors;
    return {
      '@odata.type': '#Chassis.v1_21_0.Chassis',
      '@odata.id': this.chassisPath,
      Id: this.chassisId,
      Name: 'Chassis',
      ChassisType: 'RackMount',
      Manufacturer: this.vendor.manufacturer,
      Model: this.vendor.model,
      SerialNumber: this.vendor.serial,
      PowerState: this.machine.powerState(),
      Status: { State: 'Enabled', Health: 'OK' },
      ...(q !== 'modern' ? { Thermal: ref(`${this.chassisPath}/Thermal`), Power: ref(`${this.chassisPath}/Power`) } : {}),
      ...(q !== 'legacy' ? { Sensors: ref(`${this.chassisPath}/Sensors`) } : {}),
      Links: { ComputerSystems: [ref(this.systemPath)], ManagedBy: [ref(this.managerPath)] },
    };
  }

  private watts(): number {
    return this.machine.powerState() === 'On' ? this.power.onWatts : this.power.offWatts;
  }

  private thermal(): Record<string, unknown> {
    const path = `${this.chassisPath}/Thermal`;
    const temps = this.sensors.filter((s) => s.kind === 'Temperature');
    const fans = this.sensors.filter((s) => s.kind === 'Fan');
    return {
      '@odata.type': '#Thermal.v1_7_0.Thermal',
      '@odata.id': path,
      Id: 'Thermal',
      Name: 'Thermal',
      Temperatures: temps.map((s, i) => ({
        '@odata.id': `${path}#/Temperatures/${i}`,
        MemberId: String(i),
        Name: s.name,
        ReadingCelsius: s.value,
        UpperThresholdNonCritical: s.upperCaution,
        UpperThresholdCritical: s.upperCritical,
        UpperThresholdFatal: s.upperFatal,
        Status: { State: 'Enabled', Health: health(s) },
      })),
      Fans: fans.map((s, i) => ({
        '@odata.id': `${path}#/Fans/${i}`,
        MemberId: String(i),
        Name: s.name,
        Reading: s.value,
        ReadingUnits: 'RPM',
        LowerThresholdCritical: s.lowerCritical,
        Status: { State: 'Enabled', Health: health(s) },
      })),
    };
  }

  private powerResource(): Record<string, unknown> {
    const path = `${this.chassisPath}/Power`;
    const w = this.watts();
    return {
      '@odata.type': '#Power.v1_7_1.Power',
      '@odata.id': path,
      Id: 'Power',
      Name: 'Power',
      PowerControl: [
        {
          '@odata.id': `${path}#/PowerControl/0`,
          MemberId: '0',
          Name: 'System Power Control',
          PowerCapacityWatts: 500,
          ...(this.measuresPower ? { PowerConsumedWatts: w, PowerMetrics: { IntervalInMin: 1, MinConsumedWatts: w, MaxConsumedWatts: w, AverageConsumedWatts: w } } : {}),
          Status: { State: 'Enabled', Health: 'OK' },
        },
      ],
      Voltages: this.sensors
        .filter((s) => s.kind === 'Voltage')
        .map((s, i) => ({
          '@odata.id': `${path}#/Voltages/${i}`,
          MemberId: String(i),
          Name: s.name,
          ReadingVolts: s.value,
          LowerThresholdCritical: s.lowerCritical,
          UpperThresholdCritical: s.upperCritical,
          Status: { State: 'Enabled', Health: health(s) },
        })),
      PowerSupplies: [{ '@odata.id': `${path}#/PowerSupplies/0`, MemberId: '0', Name: 'PS1', PowerCapacityWatts: 500, LastPowerOutputWatts: w, Status: { State: 'Enabled', Health: 'OK' } }],
    };
  }

  private sensorResources(): Record<string, unknown>[] {
    const base = `${this.chassisPath}/Sensors`;
    const unit = { Temperature: 'Cel', Fan: 'RPM', Voltage: 'V' } as const;
    const readingType = { Temperature: 'Temperature', Fan: 'Rotational', Voltage: 'Voltage' } as const;
    const th = (v: number | undefined) => (v === undefined ? undefined : { Reading: v });
    const out: Record<string, unknown>[] = this.sensors.map((s) => ({
      '@odata.type': '#Sensor.v1_7_0.Sensor',
      '@odata.id': `${base}/${s.id}`,
      Id: s.id,
      Name: s.name,
      ReadingType: readingType[s.kind],
      Reading: s.value,
      ReadingUnits: unit[s.kind],
      Thresholds: Object.fromEntries(
        Object.entries({ LowerCritical: th(s.lowerCritical), UpperCaution: th(s.upperCaution), UpperCritical: th(s.upperCritical), UpperFatal: th(s.upperFatal) }).filter(([, v]) => v),
      ),
      Status: { State: 'Enabled', Health: health(s) },
    }));
    if (this.measuresPower) out.push({
      '@odata.type': '#Sensor.v1_7_0.Sensor',
      '@odata.id': `${base}/TotalPower`,
      Id: 'TotalPower',
      Name: 'Total Power',
      ReadingType: 'Power',
      Reading: this.watts(),
      ReadingUnits: 'W',
      Thresholds: {},
      Status: { State: 'Enabled', Health: 'OK' },
    });
    return out;
  }

  private virtualMedia(): Record<string, unknown> {
    const path = `${this.virtualMediaPath}/CD1`;
    return {
      '@odata.type': '#VirtualMedia.v1_6_0.VirtualMedia',
      '@odata.id': path,
      Id: 'CD1',
      Name: 'Virtual CD',
      MediaTypes: ['CD', 'DVD'],
      Image: this.media.image,
      ImageName: this.media.imageName,
      Inserted: this.media.inserted,
      WriteProtected: this.media.writeProtected,
      ConnectedVia: this.media.inserted ? 'URI' : 'NotConnected',
      TransferProtocolType: this.media.image ? (this.media.image.startsWith('https:') ? 'HTTPS' : 'HTTP') : null,
      Actions: {
        '#VirtualMedia.InsertMedia': { target: `${path}/Actions/VirtualMedia.InsertMedia` },
        '#VirtualMedia.EjectMedia': { target: `${path}/Actions/VirtualMedia.EjectMedia` },
      },
    };
  }

  private logService(path: string, id: string, name: string, count: number): Record<string, unknown> {
    return {
      '@odata.type': '#LogService.v1_4_0.LogService',
      '@odata.id': path,
      Id: id,
      Name: name,
      LogEntryType: id === 'SEL' ? 'SEL' : 'Multiple',
      MaxNumberOfRecords: 1000,
      OverWritePolicy: 'WrapsWhenFull',
      ServiceEnabled: true,
      DateTime: now(),
      Status: { State: 'Enabled', Health: 'OK' },
      Entries: ref(`${path}/Entries`),
      Actions: { '#LogService.ClearLog': { target: `${path}/Actions/LogService.ClearLog` } },
      Description: `${count} entries`,
    };
  }

  private account(a: EmulatedAccount): Record<string, unknown> {
    return {
      '@odata.type': '#ManagerAccount.v1_10_0.ManagerAccount',
      '@odata.id': `${ROOT}/AccountService/Accounts/${a.id}`,
      Id: a.id,
      Name: 'User Account',
      UserName: a.userName,
      RoleId: a.roleId,
      Enabled: a.enabled,
      Locked: false,
      Password: null,
      AccountTypes: ['Redfish'],
      Links: { Role: ref(`${ROOT}/AccountService/Roles/${a.roleId}`) },
    };
  }

  private task(t: Task): Record<string, unknown> {
    return {
      '@odata.type': '#Task.v1_7_0.Task',
      '@odata.id': `${ROOT}/TaskService/Tasks/${t.id}`,
      Id: t.id,
      Name: t.name,
      TaskState: t.state,
      TaskStatus: t.state === 'Exception' ? 'Critical' : 'OK',
      StartTime: t.start,
      ...(t.end ? { EndTime: t.end } : {}),
      PercentComplete: t.state === 'Running' ? 50 : 100,
      TaskMonitor: `${ROOT}/TaskService/TaskMonitors/${t.id}`,
      Messages: t.messages.map((m) => ({ MessageId: t.state === 'Exception' ? 'Base.1.8.GeneralError' : 'Base.1.8.Success', Message: m })),
    };
  }

  // ------------------------------------------------------------------ operations

  private patchSystem(body: unknown): Reply {
    const b = asObject(body);
    for (const k of Object.keys(b)) {
      if (k !== 'Boot' && k !== 'AssetTag') throw badRequest('PropertyNotWritable', `The property ${k} is a read only property and cannot be assigned a value.`, [`#/${k}`]);
    }
    if (b.Boot === undefined) return this.withEtag(this.system());
    const boot = asObject(b.Boot, '#/Boot');
    const keys = Object.keys(boot);
    for (const k of keys) {
      const known = k === 'BootSourceOverrideEnabled' || k === 'BootSourceOverrideTarget' || (k === 'HttpBootUri' && this.offersHttpBootUri) || (k === 'BootSourceOverrideMode' && !this.quirks.noBootOverrideMode);
      if (!known) throw badRequest('PropertyUnknown', `The property ${k} is not in the list of valid properties for the resource.`, [`#/Boot/${k}`]);
    }
    if (this.quirks.minimalBootPatch && keys.length > 1 && keys.some((k) => k !== 'BootSourceOverrideEnabled' && k !== 'BootSourceOverrideTarget')) {
      throw badRequest('PropertyNotWritable', 'BootSourceOverrideMode cannot be written together with the boot override.', ['#/Boot/BootSourceOverrideMode']);
    }
    const next = { ...this.boot };
    if ('BootSourceOverrideEnabled' in boot) {
      const v = boot.BootSourceOverrideEnabled;
      if (v !== 'Disabled' && v !== 'Once' && v !== 'Continuous') throw valueNotInList(v, 'BootSourceOverrideEnabled');
      next.enabled = v;
    }
    if ('BootSourceOverrideTarget' in boot) {
      const v = boot.BootSourceOverrideTarget;
      if (!this.bootTargets.includes(v as BootTarget) && !(v === 'UsbCd' && this.quirks.virtualCdIsUsbCd)) throw valueNotInList(v, 'BootSourceOverrideTarget');
      next.target = v as BootTarget;
    }
    if ('HttpBootUri' in boot) {
      const v = boot.HttpBootUri;
      if (typeof v !== 'string' || (v !== '' && !/^https?:\/\//.test(v))) {
        throw badRequest('PropertyValueFormatError', `The value ${JSON.stringify(v)} for the property HttpBootUri is of a different format than the property can accept.`, ['#/Boot/HttpBootUri']);
      }
      next.httpBootUri = v;
    }
    if ('BootSourceOverrideMode' in boot) {
      const v = boot.BootSourceOverrideMode;
      if (v !== 'UEFI' && v !== 'Legacy') throw valueNotInList(v, 'BootSourceOverrideMode');
      next.mode = v;
    }
    const before = { ...this.boot };
    Object.assign(this.boot, next);
    const reply = this.withEtag(this.system());
    const mode = this.quirks.noBootOverrideMode ? this.machine.nativeMode : next.mode;
    if (this.quirks.revertOnceUefiPxe > 0 && next.enabled === 'Once' && next.target === 'Pxe' && mode === 'UEFI') {
      // The firmware answers as if it took it, then its own settings sync puts the old override back.
      this.quirks.revertOnceUefiPxe--;
      const revert = () => Object.assign(this.boot, before);
      if (this.quirks.revertAfterMs > 0) setTimeout(revert, this.quirks.revertAfterMs).unref();
      else queueMicrotask(revert);
    }
    return reply;
  }

  /** The boot this power-on or reset starts, and what later guest resets boot; consumes a one-time override. */
  private nextBoot(): { now: BootChoice; after: BootChoice } {
    const mode = this.effectiveMode();
    const b = this.boot;
    const now: BootChoice = { target: b.enabled === 'Disabled' ? 'None' : this.bootsAs(b.target), mode };
    const after: BootChoice = { target: b.enabled === 'Continuous' ? this.bootsAs(b.target) : 'None', mode };
    if (b.enabled === 'Once') b.enabled = 'Disabled';
    return { now, after };
  }

  /** What the machine really boots for an override target (the virtual CD answers to UsbCd on Supermicro boards). */
  private bootsAs(target: BootTarget): BootTarget {
    if (target === 'UsbCd') return this.quirks.virtualCdIsUsbCd ? 'Cd' : 'None';
    if (target === 'Cd' && this.quirks.virtualCdIsUsbCd) return 'None';
    return target;
  }

  private async resetSystem(body: unknown): Promise<Reply> {
    const type = asObject(body).ResetType;
    if (typeof type !== 'string') throw badRequest('ActionParameterMissing', 'The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.', ['#/ResetType']);
    if (!this.resetTypes.includes(type)) throw valueNotInList(type, 'ResetType');
    const m = this.machine;
    const on = m.powerState() === 'On';
    if ((type === 'ForceRestart' || type === 'GracefulRestart' || type === 'Nmi') && !on) {
      throw conflict('ActionNotSupported', `The action ${type} cannot be performed while the system is powered off.`);
    }
    const log = (message: string) => this.addLogEntry({ severity: 'OK', message, messageId: 'Platform.1.0.PowerEvent', sensorType: 'System Event', entryCode: 'Assert' });
    return this.asTask(`ComputerSystem.Reset ${type}`, async () => {
      switch (type) {
        case 'On':
        case 'ForceOn':
          if (!on) {
            const b = this.nextBoot();
            await m.powerOn(b.now, b.after);
            log('System powered on');
          }
          return;
        case 'ForceOff':
          await m.forceOff();
          log('System powered off (forced)');
          return;
        case 'GracefulShutdown':
          await m.gracefulShutdown();
          log('Graceful shutdown requested');
          return;
        case 'PushPowerButton':
          if (on) await m.gracefulShutdown();
          else {
            const b = this.nextBoot();
            await m.powerOn(b.now, b.after);
          }
          log('Power button pressed');
          return;
        case 'ForceRestart': {
          const b = this.nextBoot();
          await m.reset(b.now, b.after);
          log('System reset');
          return;
        }
        case 'GracefulRestart':
          await m.gracefulShutdown();
          log('Graceful restart requested');
          void this.powerOnWhenOff();
          return;
        case 'PowerCycle': {
          if (on) await m.forceOff();
          const b = this.nextBoot();
          await m.powerOn(b.now, b.after);
          log('System power cycled');
          return;
        }
        case 'Nmi':
          await m.nmi();
          log('NMI injected');
          return;
      }
    });
  }

  /** GracefulRestart: once the guest has turned itself off (within two minutes), power it back on. */
  private async powerOnWhenOff(): Promise<void> {
    const end = Date.now() + 120_000;
    while (Date.now() < end) {
      if (this.machine.powerState() === 'Off') {
        const b = this.nextBoot();
        await this.machine.powerOn(b.now, b.after).catch(() => undefined);
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async resetManager(body: unknown): Promise<Reply> {
    const type = asObject(body).ResetType ?? 'GracefulRestart';
    if (type !== 'GracefulRestart' && type !== 'ForceRestart') throw valueNotInList(type, 'ResetType');
    this.managerResets++;
    this.journal.push({ id: this.nextId.log++, created: now(), severity: 'OK', message: `BMC reset (${type as string})`, messageId: 'Base.1.8.Success' });
    // Answer first, then drop off the network: sessions are lost, the port refuses until the BMC is back.
    setTimeout(() => void this.rebootBmc(), 50).unref();
    return { status: 204 };
  }

  private async rebootBmc(): Promise<void> {
    if (this.down || !this.server) return;
    this.down = true;
    await this.closeServer();
    this.sessions.clear();
    await new Promise((r) => setTimeout(r, this.opts.managerResetDowntimeMs ?? 1500));
    await this.listen(this.boundPort);
    this.down = false;
  }

  private async insertMedia(body: unknown): Promise<void> {
    const b = asObject(body);
    const image = b.Image;
    if (typeof image !== 'string') throw badRequest('ActionParameterMissing', 'The action InsertMedia requires the parameter Image to be present in the request body.', ['#/Image']);
    if (!/^https?:\/\//.test(image)) throw badRequest('PropertyValueFormatError', `The value ${image} for the property Image is of a different format than the property can accept.`, ['#/Image']);
    if (b.Inserted === false) return;
    if (this.media.inserted || this.media.image) {
      throw conflict('ResourceInUse', `The change to the requested resource failed because the resource is in use or in transition (${this.media.imageName || 'media'} is attached).`);
    }
    const file = join(this.mediaDir, `cd-${Date.now()}.iso`);
    await download(image, file).catch((e: Error) => {
      throw badRequest('ResourceAtUriUnauthorized', `The image at ${image} could not be fetched: ${e.message}`, ['#/Image']);
    });
    await this.machine.setMedia(file);
    this.media.image = image;
    this.media.imageName = decodeURIComponent(new URL(image).pathname.split('/').pop() ?? '') || 'image.iso';
    this.media.inserted = true;
    this.media.writeProtected = b.WriteProtected !== false;
  }

  private async ejectMedia(clear = !this.quirks.staleImageAfterEject): Promise<void> {
    if (this.media.inserted) await this.machine.setMedia(undefined);
    this.media.inserted = false;
    if (clear) {
      this.media.image = null;
      this.media.imageName = '';
    }
  }

  private async patchVirtualMedia(body: unknown): Promise<Reply> {
    const b = asObject(body);
    const allowed = ['Image', 'Inserted', 'WriteProtected', 'TransferProtocolType', 'TransferMethod', 'UserName', 'Password'];
    for (const k of Object.keys(b)) if (!allowed.includes(k)) throw badRequest('PropertyUnknown', `The property ${k} is not in the list of valid properties for the resource.`, [`#/${k}`]);
    if (b.Image === null || b.Inserted === false) await this.ejectMedia(true);
    else if (typeof b.Image === 'string') await this.insertMedia(b);
    return this.withEtag(this.virtualMedia());
  }

  private createAccount(body: unknown): Reply {
    const b = asObject(body);
    const userName = b.UserName;
    const password = b.Password;
    const roleId = b.RoleId ?? 'ReadOnly';
    if (typeof userName !== 'string' || !/^[A-Za-z0-9._-]{1,16}$/.test(userName)) throw badRequest('PropertyValueFormatError', 'UserName must be 1-16 characters of letters, digits, dot, dash or underscore.', ['#/UserName']);
    if (typeof password !== 'string') throw badRequest('PropertyMissing', 'The property Password is a required property and must be included in the request.', ['#/Password']);
    checkPassword(password);
    if (!(String(roleId) in ROLE_PRIVILEGES)) throw valueNotInList(roleId, 'RoleId');
    if (this.accounts.some((a) => a.userName === userName)) throw conflict('ResourceAlreadyExists', `The requested resource already exists (UserName ${userName}).`);
    if (this.accounts.length >= 16) throw badRequest('CreateLimitReachedForResource', 'The create operation failed because the resource has reached the limit of possible resources.');
    const a: EmulatedAccount = { id: String(this.nextId.account++), userName, password, roleId: roleId as RoleId, enabled: b.Enabled !== false };
    this.accounts.push(a);
    const path = `${ROOT}/AccountService/Accounts/${a.id}`;
    return { status: 201, headers: { Location: path }, body: this.account(a) };
  }

  private patchAccount(a: EmulatedAccount, body: unknown): Reply {
    const b = asObject(body);
    for (const k of Object.keys(b)) if (!['Password', 'Enabled', 'RoleId', 'UserName', 'Locked'].includes(k)) throw badRequest('PropertyNotWritable', `The property ${k} is a read only property and cannot be assigned a value.`, [`#/${k}`]);
    if ('Password' in b) {
      if (typeof b.Password !== 'string') throw badRequest('PropertyValueTypeError', 'Password must be a string.', ['#/Password']);
      checkPassword(b.Password);
    }
    if ('Enabled' in b && typeof b.Enabled !== 'boolean') throw badRequest('PropertyValueTypeError', 'Enabled must be a boolean.', ['#/Enabled']);
    if ('RoleId' in b && !(String(b.RoleId) in ROLE_PRIVILEGES)) throw valueNotInList(b.RoleId, 'RoleId');
    if ('UserName' in b && (typeof b.UserName !== 'string' || !/^[A-Za-z0-9._-]{1,16}$/.test(b.UserName))) throw badRequest('PropertyValueFormatError', 'UserName is not valid.', ['#/UserName']);
    if (typeof b.Password === 'string') {
      a.password = b.Password;
      // As bmcweb does: a new password ends the account's sessions.
      for (const [t, sess] of this.sessions) if (sess.account === a) this.sessions.delete(t);
    }
    if (typeof b.Enabled === 'boolean') a.enabled = b.Enabled;
    if (typeof b.RoleId === 'string') a.roleId = b.RoleId as RoleId;
    if (typeof b.UserName === 'string') a.userName = b.UserName;
    return this.withEtag(this.account(a));
  }

  /** Runs an action: at once (204), or with quirks.asyncTasks as a task whose monitor answers 202 until it ends. */
  private async asTask(name: string, fn: () => Promise<void>): Promise<Reply> {
    if (!this.quirks.asyncTasks) {
      await fn();
      return { status: 204 };
    }
    const t: Task = { id: String(this.nextId.task++), name, state: 'Running', start: now(), messages: [] };
    this.tasks.set(t.id, t);
    void (async () => {
      // Latency, as a BMC's job queue has: an early monitor poll sees it running.
      await new Promise((r) => setTimeout(r, this.opts.taskLatencyMs ?? 300));
      try {
        await fn();
        t.state = 'Completed';
        t.messages.push('The request completed successfully.');
      } catch (e) {
        t.state = 'Exception';
        t.messages.push((e as Error).message);
      }
      t.end = now();
    })();
    const monitor = `${ROOT}/TaskService/TaskMonitors/${t.id}`;
    return { status: 202, headers: { Location: monitor, 'Retry-After': '1' }, body: this.task(t) };
  }
}

// ---------------------------------------------------------------------- helpers

interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton', 'PowerCycle'];

function collection(path: string, type: string, name: string, members: string[]): Record<string, unknown> {
  return { '@odata.type': `#${type}.${type}`, '@odata.id': path, Name: name, 'Members@odata.count': members.length, Members: members.map(ref) };
}

function logEntry(path: string, e: EmulatedLogEntry, service: string): Record<string, unknown> {
  return {
    '@odata.type': '#LogEntry.v1_15_0.LogEntry',
    '@odata.id': path,
    Id: String(e.id),
    Name: `Log Entry ${e.id}`,
    EntryType: service === 'SEL' ? 'SEL' : 'Event',
    Created: e.created,
    Severity: e.severity,
    Message: e.message,
    MessageId: e.messageId,
    ...(e.sensorType ? { SensorType: e.sensorType } : {}),
    ...(e.entryCode ? { EntryCode: e.entryCode } : {}),
  };
}

function health(s: EmulatedSensor): 'OK' | 'Warning' | 'Critical' {
  if ((s.upperCritical !== undefined && s.value >= s.upperCritical) || (s.lowerCritical !== undefined && s.value <= s.lowerCritical)) return 'Critical';
  if (s.upperCaution !== undefined && s.value >= s.upperCaution) return 'Warning';
  return 'OK';
}

function valueNotInList(v: unknown, prop: string): RedfishHttpError {
  return badRequest('PropertyValueNotInList', `The value ${JSON.stringify(v)} for the property ${prop} is not in the list of acceptable values.`, [`#/${prop}`]);
}

function checkPassword(p: string): void {
  if (p.length < 8 || p.length > 20) throw badRequest('PropertyValueFormatError', 'The password must be 8 to 20 characters long.', ['#/Password']);
}

function asObject(v: unknown, at = '#'): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest('PropertyValueTypeError', `The value at ${at} must be a JSON object.`, [at]);
  return v as Record<string, unknown>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 65_536) throw new RedfishHttpError(413, 'GeneralError', 'The request body is too large.');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(raw: string, method: string): unknown {
  if (raw.trim() === '' || method === 'GET' || method === 'HEAD' || method === 'DELETE') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw badRequest('MalformedJSON', 'The request body submitted was malformed JSON and could not be parsed by the receiving service.');
  }
}

/** What a BMC does with InsertMedia: fetch the image (its own certificate checks are off, as on most BMCs). */
async function download(url: string, file: string): Promise<void> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsGet : httpGet)(url, { rejectUnauthorized: false, timeout: 30_000 } as object, resolve);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
  if (res.statusCode !== 200) {
    res.resume();
    throw new Error(`HTTP ${res.statusCode}`);
  }
  await pipeline(res, createWriteStream(file));
}
