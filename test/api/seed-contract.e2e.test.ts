// The seed documents as a contract, against the real daemon. seeds/004 (DCImanager 6): every curl line, run as
// written by bash and the real curl (| jq included), substituting only the domain, the session code and ids —
// where a line cannot run as written, the test says why and changes as little as it must. seeds/000 (eq): every
// action with every parameter of its table, form-encoded as PHP's http_build_query sends it. Each answer is
// checked field by field against the seed's example, and every parameter is shown acted on or recorded.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';
import { startSnmpLab, type SnmpLab } from '../harness/snmp-lab.js';
import { ED25519 } from '../boot/templates/ssh-key-fixture.js';
import { startCallbackReceiver, type CallbackReceiver } from './callback-receiver.js';
import { finishedTask } from './until.js';

const SEEDS = path.join(import.meta.dirname, 'seeds');
const DCI_DOC = readFileSync(path.join(SEEDS, '004_69787eb200c532c0.txt'), 'utf8');
const EQ_DOC = readFileSync(path.join(SEEDS, '000_cb53cf73d13134ae.txt'), 'utf8');
/** The session code the seed's curl lines carry (cookie ses6 and x-xsrf-token). */
const SEED_SESSION = 'E6900A56BE7DF0FB28ED7BE7';
const STRONG = 'Str0ng-Pass!';

let rh: RackhandProcess;
let lab: SnmpLab;
let central: CallbackReceiver;
let token: string; // central control's token
let owner: { id: number; token: string }; // a billing customer owning servers 23 and 32
const api = () => apiClient(() => rh.url, token);

// ---------------------------------------------------------------- reading the seeds

/** Every JSON example that follows `after` (an index into lines), if the seed gives one. */
function exampleAfter(lines: string[], from: number): unknown {
  let i = from;
  while (i < lines.length && lines[i].trim() !== '{' && !lines[i].startsWith('curl ') && !/¶$/.test(lines[i])) i++;
  if (i >= lines.length || lines[i].trim() !== '{') return undefined;
  let depth = 0;
  const text: string[] = [];
  for (; i < lines.length; i++) {
    text.push(lines[i]);
    depth += (lines[i].match(/[{[]/g) ?? []).length - (lines[i].match(/[}\]]/g) ?? []).length;
    if (depth === 0) break;
  }
  return JSON.parse(text.join('\n'));
}

interface SeedCurl {
  title: string;
  line: string;
  key: string; // "METHOD /path" as the seed writes it
  example: unknown;
}

function seedCurlLines(): SeedCurl[] {
  const lines = DCI_DOC.split('\n');
  const out: SeedCurl[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('curl ')) return;
    const m = /^curl -X (\w+) 'https:\/\/domain\.com([^']*)'/.exec(line);
    expect(m, line).toBeTruthy();
    // The next line says "JSON object in the following form…"; the example (if any) follows it.
    const next = lines.findIndex((l, j) => j > i && (l.startsWith('curl ') || l.startsWith('JSON object')));
    out.push({ title: lines[i - 1].trim(), line, key: `${m![1]} ${m![2]}`, example: lines[next]?.startsWith('JSON object') ? exampleAfter(lines, next + 1) : undefined });
  });
  return out;
}

interface SeedEqAction {
  action: string;
  method: 'GET' | 'POST';
  params: { name: string; required: boolean; type: string; description: string }[];
  example: unknown;
}

function seedEqActions(): SeedEqAction[] {
  const lines = EQ_DOC.split('\n');
  const out: SeedEqAction[] = [];
  lines.forEach((line, i) => {
    const m = /^eq\/(\w+)¶$/.exec(line);
    if (!m) return;
    const end = lines.findIndex((l, j) => j > i && /^eq\/\w+¶$/.test(l));
    const section = lines.slice(i, end === -1 ? undefined : end);
    const params = section
      .filter((l) => l.startsWith('|') && !l.startsWith('| Parameter') && !l.startsWith('|---'))
      .map((l) => {
        const cells = l.split('|').slice(1, -1).map((c) => c.trim());
        // The seed lost one name: "| ❌ | string | Email for notifications | |" — the email parameter.
        if (cells[0] === '❌' || cells[0] === '✅') {
          expect(cells[2], l).toMatch(/email/i);
          return { name: 'email', required: cells[0] === '✅', type: cells[1], description: cells[2] };
        }
        return { name: cells[0], required: cells[1] === '✅', type: cells[2], description: cells[3] };
      });
    const method = /HTTP Method: (GET|POST)/.exec(section.join('\n'))![1] as 'GET' | 'POST';
    const ex = section.findIndex((l) => l.startsWith('Example of a successful response'));
    out.push({ action: m[1], method, params, example: ex === -1 ? undefined : exampleAfter(section, ex + 1) });
  });
  return out;
}

// ---------------------------------------------------------------- checking shapes

/**
 * `actual` has every field of the seed's example, each of the example's JSON type, recursively; arrays are
 * checked element by element against the example's first element (and must not be empty where the example is
 * not); an object whose keys are all digits is a map (deploy_keys). Extra fields are allowed.
 */
function expectSeedShape(example: unknown, actual: unknown, at = '$'): void {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  expect(kind(actual), `${at}: ${JSON.stringify(actual)?.slice(0, 200)}`).toBe(kind(example));
  if (Array.isArray(example)) {
    const a = actual as unknown[];
    if (example.length === 0) return;
    expect(a.length, `${at} must not be empty to be compared`).toBeGreaterThan(0);
    a.forEach((x, i) => expectSeedShape(example[0], x, `${at}[${i}]`));
  } else if (kind(example) === 'object') {
    const ex = example as Record<string, unknown>;
    const ac = actual as Record<string, unknown>;
    const keys = Object.keys(ex);
    if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
      expect(Object.keys(ac).length, `${at} (a map) must not be empty to be compared`).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(ac)) {
        expect(k, `${at} keys`).toMatch(/^\d+$/);
        expectSeedShape(ex[keys[0]], v, `${at}.${k}`);
      }
      return;
    }
    for (const k of keys) {
      expect(ac, `${at} lacks ${k}`).toHaveProperty([k]);
      expectSeedShape(ex[k], ac[k], `${at}.${k}`);
    }
  }
}

// ---------------------------------------------------------------- running a curl line

interface CurlRun {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

/** Run the line with bash, as a person pasting it would: the real curl, piped through the real jq. */
function runCurlLine(line: string): CurlRun {
  const r = spawnSync('bash', ['-c', line], { encoding: 'utf8', timeout: 30_000 });
  let json: unknown;
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}

/** The seed's line with its domain, session code and id placeholders made real — nothing else changed. */
function asWritten(line: string, ids: Record<string, number | string> = {}): string {
  let out = line;
  // Placeholders first: a token may itself contain a placeholder's letters.
  for (const [placeholder, value] of Object.entries(ids)) out = out.replace(new RegExp(`(?<![\\w])${placeholder}(?![\\w])`, 'g'), String(value));
  return out.replaceAll('https://domain.com', rh.url).replaceAll(SEED_SESSION, token);
}

function changed(line: string, edits: [string, string][]): string {
  let out = line;
  for (const [from, to] of edits) {
    expect(out, `the line still holds ${from}`).toContain(from);
    out = out.replace(from, to);
  }
  return out;
}

const waitTask = (id: number) => finishedTask((p) => api().get(p), id);

// ---------------------------------------------------------------- the site

beforeAll(async () => {
  central = await startCallbackReceiver();
  lab = await startSnmpLab({ ports: 2 });
  rh = await startRackhand({
    // operation_diag and the wipes boot the ramdisk: its files must be in the store
    placeholderImages: ['rackhand-ramdisk'],
    config: {
      bmc: { simulatedDelayMs: 5, powerPollMs: 50, sync: { enabled: false } },
      sensors: { enabled: false },
      boot: { installTimeoutMs: 120_000, rebootGraceMs: 0 },
      central: { callbackHosts: [central.host], callbackAttempts: 2, callbackBackoffMs: 50 },
    },
  });
  token = rh.cli(['token', 'create', '--role', 'central']).stdout.trim();
  const u1 = (await api().post('/api/v1/users', { email: 'billing-customer@example.com' })).json.id;
  owner = { id: u1, token: (await apiClient(() => rh.url, rh.cli(['token', 'create', '--role', 'admin']).stdout.trim()).post('/api/v1/tokens', { name: 'customer', role: 'client', owner_id: u1 })).json.token };
  expect((await api().post('/api/v1/users', { email: 'orders@example.com' })).status).toBe(201);
  const servers = makeServers(40).map((s) => ({
    ...s,
    status: 'free',
    owner_id: [23, 32].includes(s.id) ? u1 : undefined,
    preset: [30, 33, 34, 35].includes(s.id) ? 'contract-order' : s.preset,
    tags: s.id === 20 ? [...s.tags, { tag: 'admin_ipmi', value: '1' }] : s.tags,
    ...(s.id === 11
      ? {
          interfaces: [
            { ...s.interfaces[0], switch: 'sw-contract', switch_port: 'swp1' },
            { name: 'eth1', mac: '52:54:00:ee:00:11', switch: 'sw-contract', switch_port: 'swp2' },
          ],
        }
      : {}),
  }));
  const imp = await api().post('/api/v1/servers/import', servers);
  expect(imp.status, imp.text).toBe(200);
  // The billing facts of the customer's servers, in a second import (an older build refuses these fields:
  // update_servers then shows it).
  await api().post('/api/v1/servers/import', servers.filter((s) => [23, 32].includes(s.id)).map((s) => ({ ...s, recurring: 129, nextduedate: '2026-02-01', billingcycle: 'Monthly' })));
  expect((await api().post('/api/v1/switches', { name: 'sw-contract', address: `${lab.host}:${lab.port}`, community: lab.rw })).status).toBe(201);
  expect((await api().post('/api/ip/v3/ipnet', { name: '192.0.2.0/24', gateway: '192.0.2.1' })).status).toBe(201);
  expect((await api().post('/api/ip/v3/ippool', { name: 'contract-pool', is_public: 1, ranges: ['192.0.2.10-192.0.2.99'] })).status).toBe(201);
  for (const family of ['ipv4', 'ipv4']) expect((await api().post('/api/dci/v3/server/7/ip', { ip_pool: 'contract-pool', family })).status).toBe(200);
  // The user list is read before the seed adds one: someone is there already.
  expect((await api().post('/api/dci/v3/user', { email: 'existing@example.com', password: 'existing-pass-1' })).status).toBe(200);
});

afterAll(async () => {
  await rh?.cleanup();
  await lab?.stop();
  await central?.close();
});

// ---------------------------------------------------------------- seeds/004: DCImanager

describe('seeds/004: every DCImanager curl line', () => {
  const seeds = seedCurlLines();
  const byKey = new Map(seeds.map((s) => [s.key, s]));
  let userId = 0;
  let ipId = 0;

  /** What each seed line is run with, and what its answers must be. One entry per curl line of the seed. */
  const CASES: Record<string, (s: SeedCurl) => Promise<void>> = {
    'GET /api/dci/v3/server/configuration': async (s) => {
      // As written, the line has no space before -H: bash glues "-H" onto the URL and curl takes the cookie
      // header for a second URL (which it rejects). rackhand answers NOT_FOUND naming the path meant.
      const raw = runCurlLine(asWritten(s.line));
      expect(raw.stderr).toMatch(/curl: \(3\)/);
      expect(raw.json.error).toMatchObject({ code: 'NOT_FOUND' });
      expect(raw.json.error.message).toContain('did you mean /api/dci/v3/server/configuration?');
      // With the space the seed meant:
      const fixed = runCurlLine(changed(asWritten(s.line), [["configuration'-H", "configuration' -H"]]));
      expectSeedShape(s.example, fixed.json);
      expect(fixed.json.list.reduce((n: number, c: any) => n + c.free_server_count, 0)).toBe(40 - 2);
    },
    'GET /api/dci/v3/server': async (s) => {
      // The seed shows no example; rackhand's documented shape: a page of servers and the total.
      const r = runCurlLine(asWritten(s.line));
      expect(r.json).toMatchObject({ size: 40, list: expect.any(Array) });
      expect(r.json.list).toHaveLength(40);
      expect(r.json.list[6]).toMatchObject({ id: 7, name: 'srv-7', status: 'free', ip_list: expect.any(Array) });
    },
    'GET /api/dci/v3/server/server_id': async (s) => {
      const r = runCurlLine(asWritten(s.line, { server_id: 7 }));
      expect(r.json).toMatchObject({ id: 7, name: 'srv-7', configuration: expect.any(String), owner: null, power_status: expect.any(String) });
      expect(r.json.ip_list.map((a: any) => a.name)).toEqual(expect.arrayContaining(['192.0.2.10', '192.0.2.11']));
    },
    'GET /api/dci/v3/user': async (s) => {
      const r = runCurlLine(asWritten(s.line));
      expectSeedShape(s.example, r.json);
    },
    'POST /api/dci/v3/user': async (s) => {
      // As written: "password":"pass" is a placeholder the password policy refuses, and the error says the policy.
      const raw = runCurlLine(asWritten(s.line));
      expect(raw.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'password' } });
      expect(raw.json.error.message).toMatch(/at least 8 characters/);
      const r = runCurlLine(changed(asWritten(s.line), [['"password":"pass"', '"password":"pass-Word-42"']]));
      expectSeedShape(s.example, r.json);
      userId = r.json.id;
      // full_name, phone_number and role are recorded as given
      const listed = (await api().get('/api/v1/users?limit=100')).json.list.find((u: any) => u.id === userId);
      expect(listed).toMatchObject({ email: 'admin@example.com', fullName: 'name', phoneNumber: 'phone', role: 'level' });
    },
    'POST /api/dci/v3/server/server_id/owner': async (s) => {
      // {"owner":user_id} is not JSON until user_id is a real id: the id substitution makes it valid.
      const r = runCurlLine(asWritten(s.line, { server_id: 2, user_id: userId }));
      expectSeedShape(s.example, r.json);
      expect((await api().get('/api/dci/v3/server/2')).json).toMatchObject({ status: 'rent', owner: { id: userId, email: 'admin@example.com' } });
    },
    'DELETE /api/dci/v3/server/server_id/owner': async (s) => {
      const r = runCurlLine(asWritten(s.line, { server_id: 2 }));
      expectSeedShape(s.example, r.json);
      expect((await api().get('/api/dci/v3/server/2')).json).toMatchObject({ status: 'free', owner: null });
    },
    'POST /api/dci/v3/server/server_id/resume': async (s) => {
      await lab.setAdmin('swp1', false);
      const r = runCurlLine(asWritten(s.line, { server_id: 11 }));
      expectSeedShape(s.example, r.json);
      expect((await waitTask(r.json.task)).state).toBe('succeeded');
      expect([await lab.adminUp('swp1'), await lab.adminUp('swp2')]).toEqual([true, true]);
    },
    'POST /api/dci/v3/server/server_id/suspend': async (s) => {
      const r = runCurlLine(asWritten(s.line, { server_id: 11 }));
      expectSeedShape(s.example, r.json);
      expect((await waitTask(r.json.task)).state).toBe('succeeded');
      expect([await lab.adminUp('swp1'), await lab.adminUp('swp2')]).toEqual([false, false]);
      expect((await api().get('/api/dci/v3/server/11')).json.suspended).toBe(true);
    },
    ...Object.fromEntries(
      (['power_on', 'power_off', 'power_reset'] as const).map((op, n) => [
        `POST /api/dci/v3/server/server_id/${op}`,
        async (s: SeedCurl) => {
          const r = runCurlLine(asWritten(s.line, { server_id: 4 + n }));
          expectSeedShape(s.example, r.json);
          expect(await waitTask(r.json.task)).toMatchObject({ kind: 'power', state: 'succeeded', params: { action: { power_on: 'on', power_off: 'off', power_reset: 'reboot' }[op] } });
        },
      ]),
    ),
    'GET /api/dci/v3/ip': async (s) => {
      const r = runCurlLine(asWritten(s.line));
      expectSeedShape(s.example, r.json);
      expect(r.json.list.map((a: any) => a.server)).toEqual(['srv-7', 'srv-7']);
    },
    'GET /api/dci/v3/server/server_id/ip': async (s) => {
      const r = runCurlLine(asWritten(s.line, { server_id: 7 }));
      expectSeedShape(s.example, r.json);
    },
    'GET /api/ip/v3/ipnet': async (s) => {
      const r = runCurlLine(asWritten(s.line));
      expectSeedShape(s.example, r.json);
      expect(r.json.list[0]).toMatchObject({ name: '192.0.2.0/24', family: 2, mask: 24, gateway: '192.0.2.1', using_ip: '2' });
    },
    'GET /api/ip/v3/ippool': async (s) => {
      const r = runCurlLine(asWritten(s.line));
      expectSeedShape(s.example, r.json);
      expect(r.json.list[0]).toMatchObject({ name: 'contract-pool', is_public: 'on', using_ipv4: '2', total_ipv4: '90' });
    },
    'POST /api/dci/v3/server/server_id/ip': async (s) => {
      const before = (await api().get('/api/dci/v3/ip')).json.size;
      // As written, the body opens with ' and closes with ": bash refuses the line and curl never runs.
      const raw = runCurlLine(asWritten(s.line, { server_id: 7 }));
      expect(raw.code).toBe(2);
      expect(raw.stderr).toMatch(/unexpected EOF while looking for matching `''/);
      // The quote closed, and the seed's unquoted placeholders (net, pool, main_ipv4, userspace_id) made real:
      const net = (await api().get('/api/ip/v3/ipnet')).json.list[0].id;
      const pool = (await api().get('/api/ip/v3/ippool')).json.list[0].id;
      let line = changed(asWritten(s.line, { server_id: 7, net, pool, main_ipv4: 'false', userspace_id: 0 }), [['}" | jq', "}' | jq"]]);
      // The quoted placeholders are refused one by one, each error naming its field:
      for (const [placeholder, field, real] of [
        ['"domain_name"', 'domain', '"example.com"'],
        ['"version"', 'family', '"ipv4"'],
        ['"address"', 'ip_name', '"192.0.2.50"'],
      ]) {
        const r = runCurlLine(line);
        expect(r.json.error, placeholder).toMatchObject({ code: 'INVALID_INPUT', details: { field } });
        line = changed(line, [[placeholder, real]]);
      }
      const r = runCurlLine(line);
      expectSeedShape(s.example, r.json);
      ipId = r.json.id;
      expect((await api().get('/api/dci/v3/ip')).json.size).toBe(before + 1);
      expect((await api().get('/api/dci/v3/server/7/ip')).json.list.find((a: any) => a.id === ipId)).toMatchObject({ name: '192.0.2.50', domain: 'example.com', family: 'ipv4' });
    },
    'POST /api/dci/v3/server/server_id/ip/ip_id': async (s) => {
      const r = runCurlLine(asWritten(s.line, { server_id: 7, ip_id: ipId }));
      expectSeedShape(s.example, r.json);
      expect((await api().get('/api/dci/v3/server/7/ip')).json.list.map((a: any) => a.id)).not.toContain(ipId);
    },
    'POST /api/dci/v3/server/server_id/operation_diag': async (s) => {
      const r = runCurlLine(asWritten(s.line, { server_id: 8 }));
      expectSeedShape(s.example, r.json);
      const t = (await api().get(`/api/v1/tasks/${r.json.task}`)).json;
      expect(t).toMatchObject({ kind: 'deploy', params: { purpose: 'diag', os_id: 'diagnostics', extra: { ipmi_pool: 0 } } });
      await api().post(`/api/v1/tasks/${r.json.task}/cancel`);
      await waitTask(r.json.task);
    },
    'POST /api/dci/v3/server/server_id/operation_clear_hdd': async (s) => {
      const r = runCurlLine(asWritten(s.line, { server_id: 9 }));
      expectSeedShape(s.example, r.json);
      expect(await waitTask(r.json.task)).toMatchObject({ kind: 'noop', state: 'succeeded', result: { operation: 'clear_hdd', performed: false } });
    },
    'POST /api/dci/v3/server/server_id/operation_os': async (s) => {
      // template_id is an id placeholder (not JSON until it is a number); the quoted ones are placeholders for
      // values, each refused with its field and what it must be, then made real:
      let line = asWritten(s.line, { server_id: 10, template_id: 900 });
      for (const [placeholder, field, message, real] of [
        ['"raid"', 'hdd_raid', /none, raid1 or raid10/, '"raid1"'],
        ['"pass"', 'password', /8\+ characters with an upper-case letter, a digit and a special character/, JSON.stringify(STRONG)],
        ['"ssh_keys"', 'ssh_pub_keys', /./, JSON.stringify(ED25519)],
      ] as const) {
        const r = runCurlLine(line);
        expect(r.json.error, placeholder).toMatchObject({ code: 'INVALID_INPUT', details: { field } });
        expect(r.json.error.message).toMatch(message);
        line = changed(line, [[placeholder, real]]);
      }
      const r = runCurlLine(line);
      expectSeedShape(s.example, r.json);
      const t = (await api().get(`/api/v1/tasks/${r.json.task}`)).json;
      expect(t).toMatchObject({ kind: 'deploy', params: { purpose: 'install', os_id: 'rackhand-test', install: { disk_mirror: 1, ssh_key: ED25519 } } });
      await api().post(`/api/v1/tasks/${r.json.task}/cancel`);
      await waitTask(r.json.task);
    },
  };

  it('the seed has exactly the curl lines this suite runs (21), none left out', () => {
    expect(seeds).toHaveLength(21);
    expect([...byKey.keys()].sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const key of Object.keys(CASES)) {
    it(`${key}`, async () => {
      const s = byKey.get(key);
      expect(s, `the seed has no line for ${key}`).toBeTruthy();
      await CASES[key](s!);
    });
  }
});

// ---------------------------------------------------------------- seeds/000: eq

/** http_build_query as PHP sends it: nested arrays as a[0][b]=…, booleans as 1/0, spaces as +. */
function phpQuery(value: Record<string, unknown>): string {
  const parts: string[] = [];
  const add = (key: string, v: unknown): void => {
    if (Array.isArray(v)) v.forEach((x, i) => add(`${key}[${i}]`, x));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) add(`${key}[${k}]`, x);
    else parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(typeof v === 'boolean' ? (v ? '1' : '0') : String(v)).replace(/%20/g, '+')}`);
  };
  for (const [k, v] of Object.entries(value)) add(k, v);
  return parts.join('&');
}

async function eqCall(method: 'GET' | 'POST', params: Record<string, unknown>) {
  const query = phpQuery(params);
  const res =
    method === 'GET'
      ? await fetch(`${rh.url}/api/eq.php?${query}`)
      : await fetch(`${rh.url}/api/eq.php`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) };
}

describe('seeds/000: every eq action with every parameter of its table', () => {
  const actions = seedEqActions();
  const ids: Record<string, number> = {
    add_ipmi_user: 20, remove_ipmi_user: 20, boot_dev: 21, clear_pxe: 22, create_pxe: 23, list: 3, novnc: 24, recreate_novnc: 24,
    stop_novnc: 24, off: 25, on: 26, order_instance: 30, reboot: 27, reinstall: 28, sensors: 29, show: 3, status: 3, unit_reset: 31,
  };
  let bmcUser = '';

  /** A value for each parameter the seed lists: its meaning where it has one, else a value of its type. */
  function valueFor(action: string, p: SeedEqAction['params'][number]): unknown {
    const meaningful: Record<string, unknown> = {
      action,
      token,
      id: ids[action],
      // list: filters that all match server 3
      location: 1, full: 1, type: action === 'list' ? 'Server' : 'full', group: 'group-4', status: 'free', ip: action === 'list' ? '10.0.0.3' : '10.77.0.5',
      media: 'pxe', boot_mode: 'uefi',
      admin_user: 'rhadmin1', admin_pass: 'Adm1n-Pass-9',
      username: bmcUser,
      white_ip: '127.0.0.1',
      hostname: `web-${ids[action]}.example.com`,
      os_id: 900, os_name: 'rackhand test installer', root_pass: STRONG, ssh_key: ED25519,
      post_install_script: '#!/bin/sh\necho installed',
      post_install_callback: central.url(`/eq/${action}`),
      cloud_init_script: '#cloud-config\npackages: [htop]',
      disk_mirror: 1, uefi: 1, root_size: 20, custom_domain: 'example.com', no_lvm: '1', manual_choice_dsk: 0,
      // reinstall and order_instance imitate (no hardware); create_pxe arms for real
      imitate_deploy: action === 'create_pxe' ? 0 : 1, imitate_error: 0,
      preset: 'contract-order', location_name: 'site-1', email: action === 'order_instance' ? 'orders@example.com' : 'notify@example.com',
      reinstall_key: `rk-${action}`,
      currency_code: 'EUR', attendedInstall: 0, activate_windows: 0,
      params: [{ name: 'raid', value: '1' }, { name: 'fs', value: 'xfs' }],
      groups: [{ id: 7, name: 'web' }],
    };
    if (p.name in meaningful) return meaningful[p.name];
    if (p.type === 'int') return 1;
    if (p.type === 'array<array>') return [{ name: `${p.name}-0`, value: 'v' }];
    return `seed ${p.name}`;
  }

  /** Every parameter is acted on (these, per action) or recorded with the task as sent (task.params.extra). */
  const ACTED: Record<string, string[]> = {
    create_pxe: ['action', 'token', 'id', 'os_id', 'root_pass', 'hostname', 'ssh_key', 'post_install_script', 'post_install_callback', 'disk_mirror', 'uefi', 'root_size', 'custom_domain', 'cloud_init_script', 'no_lvm', 'manual_choice_dsk', 'imitate_deploy', 'imitate_error'],
  };
  ACTED.reinstall = ACTED.create_pxe;
  ACTED.order_instance = [...ACTED.create_pxe, 'preset', 'location_name', 'email'];

  function expectRecorded(action: string, sent: Record<string, unknown>, extra: Record<string, unknown>) {
    for (const [name, value] of Object.entries(sent)) {
      if (ACTED[action].includes(name)) continue;
      const asForm = JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'number' ? String(v) : v)));
      expect(extra, `${action}: ${name} is neither acted on nor recorded`).toHaveProperty([name]);
      expect(JSON.parse(JSON.stringify(extra[name], (_k, v) => (typeof v === 'number' ? String(v) : v))), name).toEqual(asForm);
    }
  }

  const CHECKS: Record<string, (r: { status: number; json: any }, sent: Record<string, unknown>, a: SeedEqAction) => Promise<void>> = {
    add_ipmi_user: async (r) => {
      expect(r.json).toMatchObject({ id: 20, task: expect.any(Number), username: 'rhadmin1', password: 'Adm1n-Pass-9', privilege: 'administrator' });
      expect((await waitTask(r.json.task)).state).toBe('succeeded');
      bmcUser = r.json.username;
    },
    boot_dev: async (r) => {
      expect(await waitTask(r.json.task)).toMatchObject({ kind: 'boot_device', state: 'succeeded', params: { device: 'pxe', mode: 'uefi' } });
    },
    clear_pxe: async (r) => {
      expect(await waitTask(r.json.task)).toMatchObject({ kind: 'clear_pxe', state: 'succeeded', params: { hostname: 'web-22.example.com' } });
    },
    create_pxe: async (r, sent) => {
      const t = await waitTask(r.json.task);
      expect(t).toMatchObject({
        kind: 'create_pxe',
        state: 'succeeded',
        params: {
          os_id: 'rackhand-test',
          uefi: true,
          post_install_callback: central.url('/eq/create_pxe'),
          install: { hostname: 'web-23.example.com', ssh_key: ED25519, disk_mirror: 1, root_size: 20, custom_domain: 'example.com', no_lvm: true },
        },
      });
      expectRecorded('create_pxe', sent, t.params.extra);
      expect((await api().get('/api/v1/servers/23/netboot')).json).toMatchObject({ armed: true, purpose: 'install' });
    },
    list: async (r) => {
      // full=1: each item also has the show shape (its location object; server_data.location is the name)
      expect(r.json).toMatchObject({ total: 1, list: [{ id: 3, name: 'srv-3', status: 'free', type: 'Server', server_data: { id: 3, location: 'AMS1' }, location: { dc_name: 'Amsterdam 1' } }] });
    },
    novnc: async (r) => void expect(r.json).toMatchObject({ id: 24, key: expect.any(String), url: expect.stringContaining('/console/') }),
    recreate_novnc: async (r) => void expect(r.json).toMatchObject({ id: 24, key: expect.any(String), url: expect.any(String) }),
    stop_novnc: async (r) => void expect(r.json).toMatchObject({ id: 24 }),
    off: async (r) => void expect(await waitTask(r.json.task)).toMatchObject({ kind: 'power', state: 'succeeded', params: { action: 'off' } }),
    on: async (r) => void expect(await waitTask(r.json.task)).toMatchObject({ kind: 'power', state: 'succeeded', params: { action: 'on' } }),
    reboot: async (r) => void expect(await waitTask(r.json.task)).toMatchObject({ kind: 'power', state: 'succeeded', params: { action: 'reboot' } }),
    unit_reset: async (r) => void expect(await waitTask(r.json.task)).toMatchObject({ kind: 'bmc_reset', state: 'succeeded' }),
    order_instance: async (r, sent) => {
      expect(r.json.id).toBe(30);
      const t = await waitTask(r.json.task);
      expect(t).toMatchObject({ kind: 'deploy', state: 'succeeded', params: { imitate: 'deploy', os_id: 'rackhand-test' } });
      expectRecorded('order_instance', sent, t.params.extra);
      const orders = (await api().get('/api/v1/users?limit=100')).json.list.find((u: any) => u.email === 'orders@example.com');
      expect((await api().get('/api/dci/v3/server/30')).json).toMatchObject({ status: 'rent', owner: { id: orders.id } });
      expect((await central.delivered('/eq/order_instance'))[0].json).toMatchObject({ server_id: 30, status: 'ok' });
      // and the order without an id, as a new server is ordered: the lowest free server of the preset
      const { id: _id, ...withoutId } = sent;
      const next = await eqCall('POST', withoutId);
      expect(next.json).toMatchObject({ result: 'OK', id: 33 });
    },
    reinstall: async (r, sent) => {
      const t = await waitTask(r.json.task);
      expect(t).toMatchObject({ kind: 'deploy', state: 'succeeded', params: { imitate: 'deploy', uefi: true, install: { hostname: 'web-28.example.com', disk_mirror: 1 } } });
      expectRecorded('reinstall', sent, t.params.extra);
      expect((await central.delivered('/eq/reinstall'))[0].json).toMatchObject({ server_id: 28, task: r.json.task, status: 'ok' });
    },
    remove_ipmi_user: async (r) => void expect(await waitTask(r.json.task)).toMatchObject({ kind: 'bmc_user_remove', state: 'succeeded', params: { name: 'rhadmin1' } }),
    sensors: async (r) => {
      expect(r.json).toMatchObject({ id: 29, task: expect.any(Number), read_at: expect.any(String) });
      expect(r.json.sensors.length).toBeGreaterThan(0);
    },
    show: async (r, _sent, a) => {
      expectSeedShape(a.example, r.json);
      expect(r.json.server_data).toMatchObject({ id: 3, name: 'srv-3', ip: '10.0.0.3', type: 'Server' });
    },
    status: async (r) => void expect(r.json).toMatchObject({ server_id: 3, status: 'free', power: expect.stringMatching(/^(on|off|unknown)$/) }),
    update_servers: async (r, _sent, a) => {
      expectSeedShape(a.example, r.json);
      expect(r.json.servers).toEqual([23, 32]);
      expect(r.json.billing_servers[0]).toMatchObject({ id: 23, recurring: 129, nextduedate: '2026-02-01', billingcycle: 'Monthly' });
      // create_pxe armed server 23 above: its install is in progress, keyed by the reinstall_key it was sent
      expect(r.json.deploy_keys).toEqual({ 23: 'rk-create_pxe' });
    },
  };

  it('the seed lists exactly the 19 actions this suite runs', () => {
    expect(actions.map((a) => a.action).sort()).toEqual(Object.keys(CHECKS).sort());
  });

  for (const a of seedEqActions()) {
    it(`${a.action} (${a.method}, ${a.params.length} parameters)`, async () => {
      const sent = Object.fromEntries(a.params.map((p) => [p.name, valueFor(a.action, p)]));
      // update_servers: the billing customer's own token, so its servers are the ones billed to it
      if (a.action === 'update_servers') sent.token = owner.token;
      const r = await eqCall(a.method, sent);
      expect(r.status, JSON.stringify(r.json).slice(0, 500)).toBe(200);
      expect(r.json).toMatchObject({ result: 'OK', module: 'eq', action: a.action });
      await CHECKS[a.action](r, sent, a);
    });
  }

  it('the failure responses the seed names (list, reinstall) are the eq error envelope, naming the field and the policy', async () => {
    const list = await eqCall('POST', { action: 'list', token, status: 'x'.repeat(40) });
    expect(list.status).toBe(400);
    expect(list.json).toEqual({ result: 'ERROR', module: 'eq', action: 'list', error: { code: 'INVALID_INPUT', message: expect.any(String), details: { field: 'status' } } });
    const weak = await eqCall('POST', { action: 'reinstall', token, id: 28, os_id: 900, root_pass: 'pass' });
    expect(weak.json).toMatchObject({ result: 'ERROR', module: 'eq', action: 'reinstall', error: { code: 'INVALID_INPUT', details: { field: 'root_pass' } } });
    expect(weak.json.error.message).toMatch(/8\+ characters with an upper-case letter, a digit and a special character/);
  });
});
