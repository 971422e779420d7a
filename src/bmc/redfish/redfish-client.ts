// One BMC's Redfish service as rackhand uses it: resources found by links from the service root, a session
// (X-Auth-Token) with Basic auth as the fallback, requests that log in again once when the session is gone, PATCH
// with If-Match where the BMC wants one, actions that wait on their task monitor, answers mapped to error codes.
import { RackhandError } from '../../errors.js';
import { abortableDelay } from '../abortable-delay.js';
import type { RedfishEndpoint, RedfishHttp, RedfishRequest, RedfishResponse } from './redfish-http.js';
import { endpointName } from './redfish-http.js';
import { extendedMessage, linkOf, memberLinks, objectOf, type Json } from './redfish-json.js';

export interface RedfishCredentials {
  username: string;
  password: string;
}

/** Links from the service root (paths, never assumed). */
export interface ServiceLinks {
  redfishVersion?: string;
  systems?: string;
  managers?: string;
  chassis?: string;
  sessions?: string;
  accountService?: string;
  updateService?: string;
}

export interface Resource {
  path: string;
  body: Json;
  etag?: string;
}

const SERVICE_ROOT = '/redfish/v1/';

export class RedfishClient {
  /** Names of the quirk adapters that have worked around this BMC (for operators, logs and tests). */
  readonly quirks = new Set<string>();
  lastUseAt = Date.now();
  /** Requests in flight: an idle session is deleted only when this is 0. */
  inFlight = 0;
  private creds: RedfishCredentials;
  private auth: { kind: 'session'; token: string; location?: string } | { kind: 'basic' } | undefined;
  private login: Promise<void> | undefined;
  /** The BMC has no session service (or refuses sessions): Basic from now on. */
  private basicOnly = false;
  private links: ServiceLinks | undefined;
  private readonly paths = new Map<'system' | 'manager' | 'chassis', string>();

  constructor(
    private readonly http: RedfishHttp,
    readonly ep: RedfishEndpoint,
    creds: RedfishCredentials,
  ) {
    this.creds = { ...creds };
  }

  get name(): string {
    return endpointName(this.ep);
  }

  get hasSession(): boolean {
    return this.auth?.kind === 'session';
  }

  /** New credentials (a changed password): the old session is dropped, the next call logs in with these. */
  async setCredentials(creds: RedfishCredentials): Promise<void> {
    if (creds.username === this.creds.username && creds.password === this.creds.password) return;
    await this.logout();
    this.creds = { ...creds };
  }

  /** The BMC rebooted (manager reset) or vanished: its sessions, keep-alive connections and links are gone. */
  forgetState(): void {
    this.auth = undefined;
    this.links = undefined;
    this.paths.clear();
    this.http.forget(this.ep);
  }

  // ------------------------------------------------------------------ resources by link

  async serviceLinks(signal?: AbortSignal): Promise<ServiceLinks> {
    if (this.links) return this.links;
    // The service root answers without credentials on conforming BMCs; some want them anyway, and Basic is the only
    // login possible before the root has named the session service.
    let res = await this.http.request(this.ep, { method: 'GET', path: SERVICE_ROOT, signal });
    if (res.status === 401) res = await this.http.request(this.ep, { method: 'GET', path: SERVICE_ROOT, signal, headers: this.basicHeader() });
    const root = objectOf(this.expect(res, 'read the service root'));
    const links: ServiceLinks = {
      redfishVersion: typeof root.RedfishVersion === 'string' ? root.RedfishVersion : undefined,
      systems: linkOf(root.Systems),
      managers: linkOf(root.Managers),
      chassis: linkOf(root.Chassis),
      sessions: linkOf((root.Links as Json | undefined)?.Sessions),
      accountService: linkOf(root.AccountService),
      updateService: linkOf(root.UpdateService),
    };
    this.links = links;
    return links;
  }

  /** The computer system: the only (or first) member of the service root's Systems collection. */
  systemPath(signal?: AbortSignal): Promise<string> {
    return this.member('system', 'systems', 'Systems', signal);
  }

  /** The BMC: the system's ManagedBy link, else the first member of Managers. */
  managerPath(signal?: AbortSignal): Promise<string> {
    return this.linkedFromSystem('manager', 'ManagedBy', 'managers', 'Managers', signal);
  }

  /** The system's chassis: its Links.Chassis, else the first member of Chassis. */
  chassisPath(signal?: AbortSignal): Promise<string> {
    return this.linkedFromSystem('chassis', 'Chassis', 'chassis', 'Chassis', signal);
  }

  private async linkedFromSystem(kind: 'manager' | 'chassis', link: string, root: keyof ServiceLinks, what: string, signal?: AbortSignal): Promise<string> {
    const known = this.paths.get(kind);
    if (known) return known;
    const sys = await this.get(await this.systemPath(signal), signal);
    const path = memberLinks((sys.body.Links as Json | undefined)?.[link])[0];
    if (!path) return this.member(kind, root, what, signal);
    this.paths.set(kind, path);
    return path;
  }

  private async member(kind: 'system' | 'manager' | 'chassis', link: keyof ServiceLinks, what: string, signal?: AbortSignal): Promise<string> {
    const known = this.paths.get(kind);
    if (known) return known;
    const coll = (await this.serviceLinks(signal))[link];
    if (!coll) throw new RackhandError('BMC_UNSUPPORTED', `BMC ${this.name} has no ${what} collection in its service root`, { bmc: this.name });
    const members = await this.members(coll, signal);
    if (members.length === 0) throw new RackhandError('BMC_ERROR', `BMC ${this.name} lists no ${what}`, { bmc: this.name });
    this.paths.set(kind, members[0]!);
    return members[0]!;
  }

  /** Member paths of a collection, following Members@odata.nextLink pages. */
  async members(path: string, signal?: AbortSignal, limit = 10_000): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = path;
    for (let page = 0; next && page < 100 && out.length < limit; page++) {
      const c = await this.get(next, signal);
      out.push(...memberLinks(c.body.Members));
      next = typeof c.body['Members@odata.nextLink'] === 'string' ? (c.body['Members@odata.nextLink'] as string) : undefined;
    }
    return out;
  }

  // ------------------------------------------------------------------ requests

  async get(path: string, signal?: AbortSignal): Promise<Resource> {
    const res = await this.send({ method: 'GET', path, signal });
    if (res.status === 404 && [...this.paths.values()].some((p) => path.startsWith(p))) {
      // The BMC renumbered its resources (a firmware update): the next call finds them again by links.
      this.links = undefined;
      this.paths.clear();
    }
    const body = this.expect(res, `read ${path}`);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RackhandError('BMC_ERROR', `BMC ${this.name} answered GET ${path} without a JSON object`, { bmc: this.name });
    return { path, body: body as Json, etag: etagOf(res, body as Json) };
  }

  /**
   * PATCH with If-Match when the resource's ETag is known. A BMC that demands one (428) or finds it stale (412) gets the
   * current one; a weak ETag it refuses is tried strong, then without (as sushy does for the firmware that needs it).
   */
  async patch(target: Pick<Resource, 'path' | 'etag'>, body: unknown, what: string, signal?: AbortSignal): Promise<void> {
    const send = (etag?: string) => this.send({ method: 'PATCH', path: target.path, body, signal, headers: etag ? { 'If-Match': etag } : {} });
    let res = await send(target.etag);
    if (res.status === 428 || (res.status === 412 && target.etag)) {
      if (res.status === 428) this.quirks.add('etag-required');
      const fresh = (await this.get(target.path, signal)).etag;
      res = await send(fresh);
      if (res.status === 412 && fresh?.startsWith('W/')) res = await send(fresh.slice(2));
      if (res.status === 412) res = await send(undefined);
    }
    this.expect(res, what);
  }

  /** POST an action; a 202 is followed to the end of its task. */
  async action(target: string, body: unknown, what: string, signal?: AbortSignal, taskTimeoutMs = 120_000): Promise<void> {
    const res = await this.send({ method: 'POST', path: target, body, signal });
    this.expect(res, what);
    if (res.status === 202) await this.awaitTask(res, what, signal, taskTimeoutMs);
  }

  async post(path: string, body: unknown, what: string, signal?: AbortSignal): Promise<RedfishResponse> {
    const res = await this.send({ method: 'POST', path, body, signal });
    this.expect(res, what);
    return res;
  }

  async delete(path: string, what: string, signal?: AbortSignal): Promise<RedfishResponse> {
    const res = await this.send({ method: 'DELETE', path, signal });
    this.expect(res, what);
    return res;
  }

  /** The raw answer (status not checked), with auth and one re-login when the session has expired. */
  async send(r: RedfishRequest): Promise<RedfishResponse> {
    this.inFlight++;
    try {
      await this.authenticate(r.signal);
      let res = await this.http.request(this.ep, { ...r, headers: { ...r.headers, ...this.authHeaders() } });
      if (res.status === 401 && this.auth?.kind === 'session') {
        this.auth = undefined; // expired or the BMC rebooted: log in once more
        await this.authenticate(r.signal);
        res = await this.http.request(this.ep, { ...r, headers: { ...r.headers, ...this.authHeaders() } });
      }
      return res;
    } finally {
      this.inFlight--;
      this.lastUseAt = Date.now();
    }
  }

  /** The body of a 2xx answer, or the error its status stands for. */
  expect(res: RedfishResponse, what: string): unknown {
    if (res.status >= 200 && res.status < 300) return res.body;
    throw this.statusError(res, what);
  }

  statusError(res: RedfishResponse, what: string): RackhandError {
    const said = extendedMessage(res.body);
    const tail = said ? `: ${said}` : '';
    const details = { bmc: this.name, status: res.status, ...(said ? { message: said } : {}) };
    const msg = `BMC ${this.name} refused to ${what} (HTTP ${res.status})${tail}`;
    switch (res.status) {
      case 401:
        return new RackhandError('BMC_AUTH_FAILED', `BMC ${this.name} did not accept the login of ${this.creds.username}${tail}`, details);
      case 403:
        return new RackhandError('BMC_AUTH_FAILED', `BMC ${this.name}: user ${this.creds.username} may not ${what}${tail}`, details);
      case 405:
      case 501:
        return new RackhandError('BMC_UNSUPPORTED', `BMC ${this.name} does not support: ${what} (HTTP ${res.status})${tail}`, details);
      case 429:
      case 503:
        return new RackhandError('BMC_BUSY', `BMC ${this.name} is busy and cannot ${what} now (HTTP ${res.status})${tail}`, details);
      default:
        return new RackhandError('BMC_ERROR', msg, details);
    }
  }

  // ------------------------------------------------------------------ tasks

  private async awaitTask(res: RedfishResponse, what: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<void> {
    const location = pathOf(res.headers.location);
    if (!location) return; // 202 without a monitor: accepted, nothing to follow
    const deadline = Date.now() + timeoutMs;
    let wait = retryAfterMs(res.headers['retry-after']);
    for (;;) {
      await abortableDelay(wait, signal);
      const mon = await this.send({ method: 'GET', path: location, signal });
      const task = mon.body as Json | undefined;
      const state = typeof task?.TaskState === 'string' ? task.TaskState : undefined;
      const running = mon.status === 202 || state === 'New' || state === 'Starting' || state === 'Running' || state === 'Pending';
      if (!running) {
        if (mon.status === 404 && !state) return; // some BMCs drop a finished monitor at once
        this.expect(mon, what);
        if (state === 'Exception' || state === 'Killed' || state === 'Cancelled' || task?.TaskStatus === 'Critical') {
          const messages = Array.isArray(task?.Messages) ? (task!.Messages as Json[]).map((m) => m.Message).filter((m) => typeof m === 'string').join('; ') : '';
          throw new RackhandError('BMC_ERROR', `BMC ${this.name}: the task to ${what} ended ${state ?? 'in error'}${messages ? `: ${messages}` : ''}`, { bmc: this.name, taskState: state });
        }
        return;
      }
      if (Date.now() + wait > deadline) throw new RackhandError('BMC_TIMEOUT', `BMC ${this.name}: the task to ${what} did not finish within ${Math.round(timeoutMs / 1000)} s`, { bmc: this.name });
      wait = retryAfterMs(mon.headers['retry-after']);
    }
  }

  // ------------------------------------------------------------------ auth

  private authHeaders(): Record<string, string> {
    return this.auth?.kind === 'session' ? { 'X-Auth-Token': this.auth.token } : this.basicHeader();
  }

  private basicHeader(): Record<string, string> {
    return { Authorization: `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}` };
  }

  private authenticate(signal?: AbortSignal): Promise<void> {
    if (this.auth) return Promise.resolve();
    this.login ??= this.createSession(signal).finally(() => (this.login = undefined));
    return this.login;
  }

  /** A session when the BMC offers one; Basic when it has none (remembered) or its session slots are full (this once). */
  private async createSession(signal?: AbortSignal): Promise<void> {
    if (this.basicOnly) {
      this.auth = { kind: 'basic' };
      return;
    }
    const sessions = (await this.serviceLinks(signal)).sessions;
    if (!sessions) {
      this.basicOnly = true;
      this.quirks.add('basic-auth');
      this.auth = { kind: 'basic' };
      return;
    }
    const res = await this.http.request(this.ep, { method: 'POST', path: sessions, body: { UserName: this.creds.username, Password: this.creds.password }, signal });
    const token = res.headers['x-auth-token'];
    if (res.status >= 200 && res.status < 300 && typeof token === 'string' && token) {
      this.auth = { kind: 'session', token, location: pathOf(res.headers.location) ?? linkOf(res.body) };
      return;
    }
    if (res.status === 401 || res.status === 403) throw this.statusError({ ...res, status: 401 }, 'log in');
    if (res.status === 429 || res.status === 503) {
      // No free session slot (other clients hold them): this call goes with Basic.
      this.auth = { kind: 'basic' };
      return;
    }
    if (res.status === 404 || res.status === 405 || res.status === 501 || (res.status < 300 && !token)) {
      this.basicOnly = true;
      this.quirks.add('basic-auth');
      this.auth = { kind: 'basic' };
      return;
    }
    throw this.statusError(res, 'create a session');
  }

  /** Delete the session (idle, closing, or credentials changed); the next call logs in again. */
  async logout(): Promise<void> {
    const a = this.auth;
    this.auth = undefined;
    if (a?.kind !== 'session' || !a.location) return;
    try {
      await this.http.request(this.ep, { method: 'DELETE', path: a.location, headers: { 'X-Auth-Token': a.token } });
    } catch {
      // Unreachable or gone: the BMC expires it itself.
    }
  }
}

function etagOf(res: RedfishResponse, body: Json): string | undefined {
  const h = res.headers.etag;
  if (typeof h === 'string' && h) return h;
  return typeof body['@odata.etag'] === 'string' ? (body['@odata.etag'] as string) : undefined;
}

/** A Location header may be a path or an absolute URL; requests go to the BMC's own address either way. */
function pathOf(location: string | undefined): string | undefined {
  if (!location) return undefined;
  try {
    const u = new URL(location, 'http://bmc');
    return u.pathname + u.search;
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds (or an HTTP date), clamped to 0.5-10 s; 1 s when absent. */
function retryAfterMs(v: string | undefined): number {
  if (!v) return 1000;
  const s = Number(v);
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(v) - Date.now();
  return Math.min(10_000, Math.max(500, Number.isFinite(ms) ? ms : 1000));
}
