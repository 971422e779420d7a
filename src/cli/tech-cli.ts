// The technician's commands (servers, power, boot, reinstall, adopt, tasks, watch…) as a client of /api/v1.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { closestName } from '../config.js';
import { usageLine, type CommandSpec } from './command-table.js';

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

interface Out {
  log(line: string): void;
  err(line: string): void;
}

interface Conn {
  url: string;
  token: string;
}

/** A failure with its API-shaped body: an API error passed through, or the CLI's own (usage, configuration). */
class CliError extends Error {
  readonly body: ApiErrorBody;
  constructor(
    message: string,
    readonly exitCode = 1,
    body?: ApiErrorBody,
  ) {
    super(message);
    this.body = body ?? { code: exitCode === 2 ? 'INVALID_INPUT' : 'INTERNAL', message };
  }
}

interface Task {
  id: number;
  kind: string;
  serverId: number | null;
  state: string;
  error: { code: string; message: string } | null;
  createdAt: string;
  finishedAt: string | null;
  steps?: { seq: number; at: string; name: string; state: string; message: string }[];
  result?: unknown;
}

/** An error body as the API shapes it: {"error": {code, message, details?}}. */
export interface ApiErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export function printJsonError(error: ApiErrorBody, out: Out = defaultOut): void {
  out.log(JSON.stringify({ error }));
}

const defaultOut: Out = { log: (l) => console.log(l), err: (l) => console.error(l) };

/** Runs a technician command (found in the command table by main.ts) over the API. Returns the exit code. */
export async function runApiCommand(spec: CommandSpec, args: string[], flags: Record<string, string | boolean | undefined>, out: Out = defaultOut): Promise<number> {
  try {
    const conn = connection(flags as { url?: string; token?: string });
    return await dispatch(conn, spec, args, flags, out);
  } catch (e) {
    const failure = asFailure(e);
    if (flags.json) printJsonError(failure.body, out);
    else out.err(`rackhand: ${failure.text}`);
    return failure.exitCode;
  }
}

function asFailure(e: unknown): { body: ApiErrorBody; text: string; exitCode: number } {
  if (e instanceof CliError) return { body: e.body, text: e.message, exitCode: e.exitCode };
  const cause = (e as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
  if (cause) {
    const code = cause.code ?? cause.errors?.[0]?.code;
    const message = `cannot reach rackhand${code ? ` (${code})` : cause.message ? ` (${cause.message})` : ''}: is it running, and is --url / RACKHAND_URL right?`;
    return { body: { code: 'UNREACHABLE', message }, text: message, exitCode: 1 };
  }
  const message = (e as Error).message ?? String(e);
  return { body: { code: 'INTERNAL', message }, text: message, exitCode: 1 };
}

/** Flags, then env, then ~/.config/rackhand/cli.json. */
export function connection(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Conn {
  let file: { url?: unknown; token?: unknown } = {};
  const dir = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  const cfg = path.join(dir, 'rackhand', 'cli.json');
  if ((!flags.url && !env.RACKHAND_URL) || (!flags.token && !env.RACKHAND_TOKEN)) {
    try {
      file = JSON.parse(fs.readFileSync(cfg, 'utf8'));
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw new CliError(`${cfg}: ${(e as Error).message}`, 2);
    }
  }
  const url = flags.url ?? env.RACKHAND_URL ?? (typeof file.url === 'string' ? file.url : undefined) ?? 'http://127.0.0.1:8080';
  const token = flags.token ?? env.RACKHAND_TOKEN ?? (typeof file.token === 'string' ? file.token : undefined);
  if (!token) throw new CliError(`no token: use --token, RACKHAND_TOKEN, or {"token": …} in ${cfg}`, 2);
  if (!/^https?:\/\/[^/\s]+/.test(url)) throw new CliError(`--url must be http(s)://host[:port], not ${url}`, 2);
  return { url: url.replace(/\/+$/, ''), token };
}

async function api<T = any>(c: Conn, method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(c.url + p, {
    method,
    headers: { authorization: `Bearer ${c.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json?.error as ApiErrorBody | undefined;
    if (e?.code) throw new CliError(`${e.code}: ${e.message}`, 1, e);
    throw new CliError(`HTTP ${res.status} from ${method} ${p}`, 1, { code: 'INTERNAL', message: `HTTP ${res.status} from ${method} ${p}` });
  }
  return json as T;
}

function id(v: string | undefined, what: string): number {
  if (!v || !/^\d{1,15}$/.test(v)) throw new CliError(`${what} must be a number${v ? `, not ${v}` : ''}`, 2);
  return Number(v);
}

type Flags = Record<string, string | boolean | undefined>;

async function dispatch(c: Conn, spec: CommandSpec, args: string[], v: Flags, out: Out): Promise<number> {
  const json = v.json === true;
  const [a, b] = args;
  const print = (data: unknown, human: () => void) => (json ? out.log(JSON.stringify(data)) : human());
  const usage = (why: string) => new CliError(`${why} (usage: ${usageLine(spec)})`, 2);
  const runTask = (t: Task) => (v['no-wait'] ? started(t, json, out) : follow(c, t.id, json, out));
  switch (spec.name) {
    case 'servers': {
      const q = args.join(' ');
      const params = new URLSearchParams({ limit: v.limit ? String(id(v.limit as string, '--limit')) : '200' });
      if (q) params.set('q', q);
      const r = await api<{ servers: any[]; total: number }>(c, 'GET', `/api/v1/servers?${params}`);
      print(r, () => {
        table(
          out,
          ['ID', 'NAME', 'RACK', 'POWER', 'READ', 'BMC', 'STATUS', 'IP'],
          r.servers.map((s) => [
            s.id,
            s.name,
            s.rack ? `${s.rack}${s.rackPosition ? '/U' + s.rackPosition : ''}` : '-',
            s.power.state,
            ago(s.power.readAt),
            !s.bmc ? 'none' : s.power.bmcReachable === null ? '?' : s.power.bmcReachable ? 'ok' : 'unreachable',
            s.status,
            s.interfaces.find((i: any) => i.ip)?.ip ?? '-',
          ]),
        );
        if (r.total > r.servers.length) out.log(`(${r.servers.length} of ${r.total}; narrow the query)`);
      });
      return 0;
    }
    case 'power': {
      if (!['on', 'off', 'reboot'].includes(a ?? '')) throw usage(`power needs on, off or reboot${a ? `, not ${a}` : ''}`);
      return runTask(await api<Task>(c, 'POST', `/api/v1/servers/${id(b, 'ID')}/power`, { action: a }));
    }
    case 'boot': {
      if (!['pxe', 'disk'].includes(b ?? '')) throw usage(`boot needs pxe or disk${b ? `, not ${b}` : ''}`);
      const mode = (v.mode as string | undefined) ?? 'auto';
      if (!['uefi', 'legacy', 'auto'].includes(mode)) throw usage('--mode must be uefi, legacy or auto');
      return runTask(await api<Task>(c, 'POST', `/api/v1/servers/${id(a, 'ID')}/boot-device`, { device: b, mode, persistent: v.persistent === true }));
    }
    case 'sensors': {
      const r = await api<{ task: number; read_at: string; sensors: any[] }>(c, 'GET', `/api/v1/servers/${id(a, 'ID')}/sensors`);
      print(r, () => {
        const order: Record<string, number> = { critical: 0, warning: 1, ok: 2, unavailable: 3 };
        const rows = [...r.sensors].sort((x, y) => (order[x.status] ?? 9) - (order[y.status] ?? 9) || x.name.localeCompare(y.name));
        table(
          out,
          ['SENSOR', 'VALUE', 'UNIT', 'STATUS', 'THRESHOLDS'],
          rows.map((s) => [s.name, s.value ?? '-', s.unit || '-', s.status === 'ok' ? 'ok' : s.status.toUpperCase(), thresholds(s.thresholds ?? {})]),
        );
        out.log(`read ${ago(r.read_at)} (task ${r.task})`);
      });
      return 0;
    }
    case 'console': {
      const r = await api<{ key: string; url: string }>(c, 'POST', `/api/v1/servers/${id(a, 'ID')}/console`);
      print(r, () => out.log(new URL(r.url, c.url + '/').href));
      return 0;
    }
    case 'os': {
      const r = await api<{ list: OsEntry[] }>(c, 'GET', '/api/v1/os');
      print(r, () => table(out, ['OS_ID', 'ID', 'NAME', 'FAMILY'], r.list.map((o) => [o.os_id, o.id ?? '-', o.name, o.family])));
      return 0;
    }
    case 'reinstall': {
      const serverId = id(a, 'ID');
      if (typeof v.os !== 'string' || !v.os) throw usage('reinstall needs --os OS (rackhand os lists them)');
      const osId = await resolveOs(c, v.os);
      const server = await api<{ id: number; name: string }>(c, 'GET', `/api/v1/servers/${serverId}`);
      if (!v.yes) await confirm(`reinstall server ${serverId} (${server.name}) with ${osId}? Its disks are erased.`, 'reinstall erases the server\'s disks');
      const rootPass = await secretInput(v['root-pass-file'] as string | undefined, `root password for ${server.name}: `, '--root-pass-file');
      const body: Record<string, unknown> = { os_id: osId, root_pass: rootPass };
      if (v.hostname) body.hostname = v.hostname;
      if (v['ssh-key-file']) body.ssh_key = readFile(v['ssh-key-file'] as string).trim();
      if (v.uefi) body.uefi = true;
      return runTask(await api<Task>(c, 'POST', `/api/v1/servers/${serverId}/reinstall`, body));
    }
    case 'adopt': {
      if (!a) throw usage('adopt needs the MAC (rackhand discovered lists them)');
      if (!v.id || !v.name) throw usage('adopt needs --id ID and --name NAME for the new server');
      const body: Record<string, unknown> = { id: id(v.id as string, '--id'), name: v.name };
      if (v.rack) body.rack = v.rack;
      if (v['rack-position']) body.rack_position = id(v['rack-position'] as string, '--rack-position');
      if (v.location) body.location = v.location;
      if (v['bmc-host']) {
        if (!v['bmc-user']) throw usage('--bmc-host needs --bmc-user too');
        body.bmc = {
          host: v['bmc-host'],
          username: v['bmc-user'],
          ...(v['bmc-driver'] ? { driver: v['bmc-driver'] } : {}),
          ...(v['bmc-password-file'] ? { password: await secretInput(v['bmc-password-file'] as string, '', '--bmc-password-file') } : {}),
        };
      }
      const r = await api<{ id: number; name: string }>(c, 'POST', `/api/v1/discovered/${encodeURIComponent(a)}/adopt`, body);
      print(r, () => out.log(`adopted ${a} as server ${r.id} (${r.name})`));
      return 0;
    }
    case 'tasks': {
      const params = new URLSearchParams({ limit: v.limit ? String(id(v.limit as string, '--limit')) : '20' });
      if (v.server) params.set('server', String(id(v.server as string, '--server')));
      if (v.state) params.set('state', String(v.state));
      const r = await api<{ tasks: Task[]; total: number }>(c, 'GET', `/api/v1/tasks?${params}`);
      print(r, () =>
        table(
          out,
          ['ID', 'KIND', 'SERVER', 'STATE', 'CREATED', 'ERROR'],
          r.tasks.map((t) => [t.id, t.kind, t.serverId ?? '-', t.state, ago(t.createdAt), t.error ? `${t.error.code}: ${t.error.message}` : '']),
        ),
      );
      return 0;
    }
    case 'watch':
      return follow(c, id(a, 'TASK'), json, out);
    case 'cancel': {
      const t = await api<Task>(c, 'POST', `/api/v1/tasks/${id(a, 'TASK')}/cancel`);
      print(t, () => out.log(`task ${t.id} (${t.kind}) asked to stop; its cleanup runs. Follow it with: rackhand watch ${t.id}`));
      return 0;
    }
    case 'bmc reset':
      return runTask(await api<Task>(c, 'POST', `/api/v1/servers/${id(a, 'ID')}/bmc/reset`, { kind: v.warm ? 'warm' : 'cold' }));
    case 'bmc forget-certificate': {
      const r = await api<{ server: number; endpoint: string; forgotten: { fingerprint256: string; pinnedAt: string } | null }>(
        c,
        'DELETE',
        `/api/v1/servers/${id(a, 'ID')}/bmc/certificate`,
      );
      print(r, () =>
        out.log(
          r.forgotten
            ? `server ${r.server}: forgot the certificate pinned for ${r.endpoint} on ${r.forgotten.pinnedAt.slice(0, 10)} (SHA-256 ${r.forgotten.fingerprint256}); the next connection pins the one it shows`
            : `server ${r.server}: no certificate was pinned for ${r.endpoint}; the next connection pins the one it shows`,
        ),
      );
      return 0;
    }
    case 'discovered': {
      const r = await api<{ list: any[] }>(c, 'GET', '/api/v1/discovered');
      print(r, () => {
        if (!r.list.length) return out.log('nothing discovered');
        table(
          out,
          ['MAC', 'ARCH', 'VENDOR CLASS', 'FIRST SEEN', 'LAST SEEN', 'SEEN'],
          r.list.map((d) => [d.mac, archName(d.arch), d.vendorClass ?? '-', ago(d.firstSeen), ago(d.lastSeen), d.seenCount]),
        );
      });
      return 0;
    }
    case 'boot-history': {
      if (!a) throw usage('boot-history needs a server ID or a MAC');
      const limit = v.limit ? String(id(v.limit as string, '--limit')) : '50';
      const path = /^\d{1,15}$/.test(a) ? `/api/v1/servers/${a}/boot-history` : `/api/v1/discovered/${encodeURIComponent(a)}/boot-history`;
      const r = await api<{ list: BootLine[]; total: number }>(c, 'GET', `${path}?limit=${limit}`);
      print(r, () => {
        if (!r.list.length) return out.log(`no boot events recorded for ${a}`);
        table(
          out,
          ['TIME', 'EVENT', 'FROM', 'MAC', 'DETAIL'],
          r.list.map((e) => [e.at.replace('T', ' ').slice(0, 23), e.kind, e.ip || '-', e.mac ?? '-', e.detail]),
        );
        const counts = new Map<string, number>();
        for (const e of r.list) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
        out.log(`${r.list.length} of ${r.total} events since ${r.list.at(-1)!.at}: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
      });
      return 0;
    }
    case 'audit': {
      const params = new URLSearchParams({ limit: v.limit ? String(id(v.limit as string, '--limit')) : '50' });
      for (const f of ['server', 'task'] as const) if (v[f]) params.set(f, String(id(v[f] as string, `--${f}`)));
      if (v.token) params.set('token_id', String(id(v.token as string, '--token')));
      if (v.errors) params.set('result', 'error');
      if (v.since) params.set('since', String(v.since));
      const r = await api<{ list: AuditLine[]; total: number }>(c, 'GET', `/api/v1/audit?${params}`);
      print(r, () => {
        if (!r.list.length) return out.log('no audit entries match');
        table(
          out,
          ['TIME', 'WHO', 'FROM', 'REQUEST', 'SERVER', 'TASK', 'RESULT'],
          r.list.map((e) => [
            e.at.replace('T', ' ').slice(0, 19),
            e.tokenId === null ? '(no valid token)' : `${e.tokenName} (${e.role} #${e.tokenId})`,
            e.remote,
            `${e.method} ${e.route}${e.action ? ` ${e.action}` : ''}`,
            e.serverId ?? '-',
            e.taskId ?? '-',
            `${e.status}${e.errorCode ? ` ${e.errorCode}` : ''}`,
          ]),
        );
        if (r.total > r.list.length) out.log(`(${r.list.length} of ${r.total}; --limit or a filter for more)`);
      });
      return 0;
    }
  }
  throw new CliError(`${spec.name} is not an API command`, 2);
}

interface BootLine {
  at: string;
  kind: string;
  ip: string;
  mac: string | null;
  detail: string;
}

interface AuditLine {
  at: string;
  tokenId: number | null;
  tokenName: string | null;
  role: string | null;
  remote: string;
  method: string;
  route: string;
  action: string | null;
  serverId: number | null;
  taskId: number | null;
  status: number;
  errorCode: string | null;
}

interface OsEntry {
  id: number | null;
  os_id: string;
  name: string;
  family: string;
}

/** --os as the catalogue knows it: its os_id, its number, or its name (any case). */
async function resolveOs(c: Conn, given: string): Promise<string | number> {
  const { list } = await api<{ list: OsEntry[] }>(c, 'GET', '/api/v1/os');
  const lower = given.toLowerCase();
  const hit = list.find((o) => o.os_id.toLowerCase() === lower || String(o.id) === given || o.name.toLowerCase() === lower);
  if (hit) return hit.os_id;
  const near = closestName(given, list.map((o) => o.os_id));
  throw new CliError(`unknown OS ${given}${near ? ` (did you mean ${near}?)` : ''}: rackhand os lists them`, 2);
}

function readFile(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file === '-' ? 'standard input' : file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 2);
  }
}

/** A secret from a file, standard input ('-'), or typed at a terminal without echo — never from argv. */
async function secretInput(file: string | undefined, prompt: string, flag: string): Promise<string> {
  if (file) {
    const value = readFile(file).replace(/\r?\n$/, '');
    if (!value) throw new CliError(`${flag}: ${file === '-' ? 'standard input' : file} is empty`, 2);
    return value;
  }
  if (!process.stdin.isTTY || !prompt) throw new CliError(`no terminal to ask on: give it with ${flag} FILE (or ${flag} - to read standard input)`, 2);
  return askHidden(prompt);
}

function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new CliError('interrupted', 130));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    stdin.on('data', onData);
  });
}

/** Asks on the terminal; without one the caller must have said --yes. */
async function confirm(question: string, what: string): Promise<void> {
  if (!process.stdin.isTTY) throw new CliError(`${what}: add --yes to confirm (there is no terminal to ask on)`, 2);
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((r) => rl.question(`${question} [y/N] `, r));
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('not confirmed; nothing was changed', 1);
}

/** DHCP option 93 (RFC 4578 and the IANA registry) as the name a technician knows. */
const ARCH_NAMES: Record<number, string> = {
  0: 'bios',
  6: 'uefi-ia32',
  7: 'uefi-x64',
  9: 'uefi-x64',
  10: 'uefi-arm32',
  11: 'uefi-arm64',
  15: 'uefi-ia32-http',
  16: 'uefi-x64-http',
  18: 'uefi-arm32-http',
  19: 'uefi-arm64-http',
};

export function archName(arch: number | null | undefined): string {
  if (arch === null || arch === undefined) return '-';
  return ARCH_NAMES[arch] ?? `arch ${arch}`;
}

function started(t: Task, json: boolean, out: Out): number {
  out.log(json ? JSON.stringify(t) : `task ${t.id} (${t.kind}) ${t.state}; follow it with: rackhand watch ${t.id}`);
  return 0;
}

/**
 * Follows a task until it ends: the event stream for progress, a poll every few seconds as a safety net
 * (a proxy that buffers SSE, a dropped stream). Exit code 0 when it succeeded, 1 otherwise; with --json only the
 * final task is printed, as GET /api/v1/tasks/:id returns it. Ctrl-C stops following, not the task.
 */
async function follow(c: Conn, taskId: number, json: boolean, out: Out): Promise<number> {
  const shown = new Set<number>();
  const show = (t: Task) => {
    if (json) return;
    for (const s of t.steps ?? []) {
      if (shown.has(s.seq)) continue;
      shown.add(s.seq);
      out.log(`${new Date(s.at).toTimeString().slice(0, 8)}  ${mark(s.state)} ${s.name}${s.message ? ` — ${s.message}` : ''}`);
    }
  };
  const abort = new AbortController();
  let latest: Task | undefined;
  const interrupted = new Promise<'interrupted'>((resolve) => {
    const onSigint = () => resolve('interrupted');
    process.once('SIGINT', onSigint);
    abort.signal.addEventListener('abort', () => process.off('SIGINT', onSigint));
  });
  const done = new Promise<Task>((resolve, reject) => {
    const settle = (t: Task) => {
      latest = t;
      show(t);
      if (FINISHED.has(t.state)) resolve(t);
    };
    // Subscribe first, then read the task: nothing that happens in between is missed.
    streamEvents(c, taskId, abort.signal, (type, data) => {
      if (type === 'step') {
        const step = (data as { step: NonNullable<Task['steps']>[number] }).step;
        if (latest) settle({ ...latest, steps: [...(latest.steps ?? []).filter((x) => x.seq !== step.seq), step].sort((x, y) => x.seq - y.seq) });
      } else if (type === 'task') settle(data as Task);
    }).catch(() => undefined);
    const poll = async () => {
      while (!abort.signal.aborted) {
        try {
          settle(await api<Task>(c, 'GET', `/api/v1/tasks/${taskId}`));
        } catch (e) {
          return reject(e);
        }
        await new Promise((r) => setTimeout(r, 2000).unref());
      }
    };
    void poll();
  });
  try {
    const t = await Promise.race([done, interrupted]);
    if (t === 'interrupted') {
      out.err(`\nstopped following task ${taskId}${latest ? ` (${latest.kind})` : ''}; the task keeps running on rackhand. Watch it again with: rackhand watch ${taskId}  (stop it with: rackhand cancel ${taskId})`);
      return 130;
    }
    if (json) out.log(JSON.stringify(t));
    else out.log(`task ${t.id} (${t.kind}) ${t.state}${t.error ? `: ${t.error.code}: ${t.error.message}` : ''}`);
    return t.state === 'succeeded' ? 0 : 1;
  } finally {
    abort.abort();
  }
}

/** A minimal EventSource over fetch: calls onEvent for every `event:`/`data:` block until aborted. */
async function streamEvents(c: Conn, taskId: number, signal: AbortSignal, onEvent: (type: string, data: unknown) => void): Promise<void> {
  const res = await fetch(`${c.url}/api/v1/events?task=${taskId}`, { headers: { authorization: `Bearer ${c.token}`, accept: 'text/event-stream' }, signal });
  if (!res.ok || !res.body) return;
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end).replace(/^\r?\n\r?\n/, '');
      let type = 'message';
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (!data.length) continue;
      try {
        onEvent(type, JSON.parse(data.join('\n')));
      } catch {
        /* a malformed event is skipped; the poll still sees the task */
      }
    }
  }
}

function mark(state: string): string {
  return { started: '…', succeeded: '✓', failed: '✗', note: '·' }[state] ?? state;
}

function thresholds(t: Record<string, number | undefined>): string {
  const parts: string[] = [];
  if (t.lowerCritical !== undefined) parts.push(`crit<${t.lowerCritical}`);
  if (t.lowerNonCritical !== undefined) parts.push(`warn<${t.lowerNonCritical}`);
  if (t.upperNonCritical !== undefined) parts.push(`warn>${t.upperNonCritical}`);
  if (t.upperCritical !== undefined) parts.push(`crit>${t.upperCritical}`);
  return parts.join(' ') || '-';
}

function ago(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const sec = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (sec < 90) return `${Math.max(0, sec)}s ago`;
  if (sec < 5400) return `${Math.round(sec / 60)}m ago`;
  if (sec < 129600) return `${Math.round(sec / 3600)}h ago`;
  return `${Math.round(sec / 86400)}d ago`;
}

function table(out: Out, head: string[], rows: unknown[][]): void {
  const cells = [head, ...rows.map((r) => r.map((x) => String(x ?? '')))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  for (const r of cells) out.log(r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i]))).join('  ').trimEnd());
}
