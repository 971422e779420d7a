// Issue 13 findings about how central's requests arrive, through the real daemon: bodies as curl and PHP send
// them (JSON labelled as a form or unlabelled, PHP-style arrays), /api/eq.php, tokens in the order that lets a
// stale header lose to a valid cookie, one error envelope per face, and a curl line with a glued option.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';

let rh: RackhandProcess;
let admin: string;
const api = (tok = admin) => apiClient(() => rh.url, tok);

/** One request with exactly these headers: no Content-Type unless given (fetch would add text/plain). */
function raw(method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(rh.url + path);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  rh = await startRackhand({ placeholderImages: ['rackhand-ramdisk'], config: { bmc: { simulatedDelayMs: 5, powerPollMs: 50, sync: { enabled: false } }, sensors: { enabled: false } } });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  expect((await api().post('/api/v1/servers/import', makeServers(20).map((s) => ({ ...s, status: 'free', owner_id: undefined })))).status).toBe(200);
  expect((await api().post('/api/ip/v3/ipnet', { name: '192.0.2.0/24' })).status).toBe(201);
  expect((await api().post('/api/ip/v3/ippool', { name: 'p1', ranges: ['192.0.2.10-192.0.2.99'] })).status).toBe(201);
});
afterAll(async () => rh?.cleanup());

describe('DCImanager bodies as the seed\'s curl lines send them', () => {
  // curl -d sends JSON text as application/x-www-form-urlencoded; other clients send it with no type at all.
  const labels: [string, Record<string, string>][] = [
    ['labelled a form (curl -d)', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['with no Content-Type', {}],
  ];
  for (const [how, type] of labels) {
    it(`JSON ${how} is read as JSON on every body the seed sends`, async () => {
      const auth = { cookie: `ses6=${admin}`, 'x-xsrf-token': admin, 'isp-box-instance': 'true', ...type };
      const n = how.length; // a different user per case
      const user = await raw('POST', '/api/dci/v3/user', JSON.stringify({ email: `u${n}@example.com`, full_name: 'name', password: 'long-enough-1', phone_number: 'phone', role: 'user' }), auth);
      expect(user.status, JSON.stringify(user.json)).toBe(200);
      const sid = n % 2 ? 1 : 2;
      for (const [path, body] of [
        [`/api/dci/v3/server/${sid}/owner`, { owner: user.json.id }],
        [`/api/dci/v3/server/${sid}/ip`, { domain: 'example.com', family: 'ipv4', ip_pool: 'p1', set_as_main_ipv4: false, userspace: 0 }],
        [`/api/dci/v3/server/${sid + 2}/operation_os`, { hdd_raid: 'raid1', os_template_id: 900, password: 'Str0ng-Pass!', ssh_pub_keys: [] }],
        [`/api/dci/v3/server/${sid + 4}/operation_diag`, { setup_ipmi: false, ipmi_pool: 0, os_template_id: 0, clear_hdd: 'none' }],
        [`/api/dci/v3/server/${sid + 6}/operation_clear_hdd`, { clear_hdd: 'zero' }],
        [`/api/dci/v3/server/${sid + 8}/power_on`, {}],
      ] as const) {
        const r = await raw('POST', path, JSON.stringify(body), auth);
        expect(r.status, `${path}: ${JSON.stringify(r.json)}`).toBe(200);
        expect(r.json.id, path).toEqual(expect.any(Number));
      }
    });
  }

  it('an eq form with PHP-style arrays (params[0][name]=…) is accepted and kept as arrays', async () => {
    const form =
      'action=reinstall&id=15&os_id=900&root_pass=Str0ng-Pass!&imitate_deploy=1' +
      '&params[0][name]=raid&params[0][value]=1&params[1][name]=fs&params[1][value]=xfs&groups[0][id]=7&groups[0][name]=web' +
      `&token=${admin}`;
    const r = await raw('POST', '/api/eq', form, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const t = (await api().get(`/api/v1/tasks/${r.json.task}`)).json;
    expect(t.params.extra).toMatchObject({
      params: [{ name: 'raid', value: '1' }, { name: 'fs', value: 'xfs' }],
      groups: [{ id: '7', name: 'web' }],
    });
  });
});

describe('eq at /api/eq.php', () => {
  it('answers as /api/eq does, by POST and by GET', async () => {
    const post = await raw('POST', '/api/eq.php', `action=show&id=3&token=${admin}`, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(post.status).toBe(200);
    expect(post.json).toMatchObject({ result: 'OK', module: 'eq', action: 'show', server_data: { id: 3 } });
    const get = await raw('GET', `/api/eq.php?action=status&id=3&token=${admin}`, undefined, {});
    expect(get.json).toMatchObject({ result: 'OK', action: 'status', server_id: 3 });
  });
});

describe('tokens: the first valid one wins', () => {
  it('a stale x-xsrf-token beside a valid ses6 cookie, or a stale Bearer beside a valid token parameter, is let in', async () => {
    const stale = 'E6900A56BE7DF0FB28ED7BE7';
    const dci = await raw('GET', '/api/dci/v3/server/1', undefined, { cookie: `ses6=${admin}`, 'x-xsrf-token': stale });
    expect(dci.status, JSON.stringify(dci.json)).toBe(200);
    const eq = await raw('POST', '/api/eq', `action=status&id=1&token=${admin}`, { authorization: `Bearer ${stale}`, 'content-type': 'application/x-www-form-urlencoded' });
    expect(eq.status, JSON.stringify(eq.json)).toBe(200);
    const none = await raw('GET', '/api/dci/v3/server/1', undefined, { cookie: `ses6=${stale}`, 'x-xsrf-token': stale });
    expect(none.status).toBe(401);
  });

  it('the token parameter works on every endpoint, those with their own query parameters too', async () => {
    for (const path of ['/api/dci/v3/server?limit=1', '/api/dci/v3/ip?limit=1', '/api/v1/servers?limit=1', '/api/v1/tasks?limit=1', '/api/v1/servers/1/sensors/history?hours=1']) {
      const r = await raw('GET', `${path}&token=${admin}`, undefined, {});
      expect(r.status, `${path}: ${JSON.stringify(r.json)}`).toBe(200);
    }
  });
});

describe('one error envelope per face', () => {
  const keys = (o: object) => Object.keys(o).sort();
  it('eq: {result: ERROR, module, action, error: {code, message, details}} for every kind of failure', async () => {
    const cases = [
      await raw('POST', '/api/eq', 'action=show&id=1', { 'content-type': 'application/x-www-form-urlencoded' }), // no token
      await raw('POST', '/api/eq', `action=show&id=abc&token=${admin}`, { 'content-type': 'application/x-www-form-urlencoded' }),
      await raw('POST', '/api/eq', `action=show&id=999&token=${admin}`, { 'content-type': 'application/x-www-form-urlencoded' }),
      await raw('POST', '/api/eq.php', `action=format_c&token=${admin}`, { 'content-type': 'application/x-www-form-urlencoded' }),
      await raw('GET', `/api/eq?action=show&id=abc&token=${admin}`, undefined, {}),
      await raw('GET', `/api/eq/nothing?action=show&token=${admin}`, undefined, {}),
    ];
    for (const c of cases) {
      expect(keys(c.json)).toEqual(['action', 'error', 'module', 'result']);
      expect(c.json).toMatchObject({ result: 'ERROR', module: 'eq', error: { code: expect.any(String), message: expect.any(String) } });
    }
    // the action is named whether it came in the body or the query
    expect(cases.map((c) => c.json.action)).toEqual(['show', 'show', 'show', 'format_c', 'show', 'show']);
    expect(cases.map((c) => c.status)).toEqual([401, 400, 404, 400, 400, 404]);
    expect(cases[1].json.error.details).toEqual({ field: 'id' });
  });

  it('DCImanager, /api/v1 and paths no face owns: {error: {code, message, details?}} only', async () => {
    const cases = [
      await raw('GET', '/api/dci/v3/server', undefined, {}),
      await raw('GET', '/api/dci/v3/server/abc', undefined, { cookie: `ses6=${admin}` }),
      await raw('GET', '/api/dci/v3/nothing', undefined, { cookie: `ses6=${admin}` }),
      await raw('GET', '/api/ip/v3/nothing', undefined, { cookie: `ses6=${admin}` }),
      await raw('GET', '/api/v1/nothing', undefined, { authorization: `Bearer ${admin}` }),
      await raw('GET', '/nothing/at/all', undefined, {}),
    ];
    expect(cases.map((c) => c.status)).toEqual([401, 400, 404, 404, 404, 404]);
    for (const c of cases) {
      expect(keys(c.json)).toEqual(['error']);
      expect(keys(c.json.error).filter((k) => k !== 'details')).toEqual(['code', 'message']);
    }
  });
});

describe('a curl line with an option glued onto its URL (the seed\'s first line)', () => {
  it('says which path was meant instead of complaining about the id', async () => {
    const r = await raw('GET', '/api/dci/v3/server/configuration-H', undefined, { 'x-xsrf-token': admin });
    expect(r.status).toBe(404);
    expect(r.json.error.message).toContain('did you mean /api/dci/v3/server/configuration?');
    const other = await raw('POST', '/api/dci/v3/server/1/power_on-H', '{}', { 'x-xsrf-token': admin });
    expect(other.json.error.message).toContain('did you mean /api/dci/v3/server/1/power_on?');
  });
});
