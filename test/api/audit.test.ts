// The audit log on the real agent: every mutating request on every face (v1, eq, DCImanager) recorded once by the
// face machinery — who, what, from where, result — reads left out, never a secret; read by admins, filtered,
// bounded; and the CLI's `audit`.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSite, type TestSite } from '../web/test-site.js';
import { openDatabase } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { AuditRepo, type AuditEntry } from '../../src/store/repos/audit-repo.js';
import { Audit } from '../../src/core/audit.js';
import { buildCli, cliRunner } from '../cli/tech-cli-runner.js';

let site: TestSite;

async function call(token: string | undefined, method: string, path: string, body?: unknown, form = false) {
  const res = await fetch(site.url + path, {
    method,
    headers: {
      ...(token && !form ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' } : {}),
    },
    body: body === undefined ? undefined : form ? new URLSearchParams({ ...(body as Record<string, string>), ...(token ? { token } : {}) }).toString() : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const audit = async (query = '') => (await call(site.tokens.admin, 'GET', `/api/v1/audit${query}`)).json;
const tokenId = (name: string) => site.agent.repos.tokens.list().find((t) => t.name === name)!.id;

beforeAll(async () => {
  site = await startTestSite();
});
afterAll(async () => site?.close());

describe('the audit log', () => {
  it('records a v1 action: who (token id, name, role), the route pattern, server, task, remote address and result', async () => {
    const r = await call(site.tokens.tech, 'POST', '/api/v1/servers/1001/power', { action: 'on' });
    expect(r.status).toBe(202);
    const { list } = await audit(`?task=${r.json.id}`);
    expect(list).toEqual([
      {
        id: expect.any(Number),
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        tokenId: tokenId('tech'),
        tokenName: 'tech',
        role: 'tech',
        face: 'v1',
        method: 'POST',
        route: '/api/v1/servers/:id/power',
        action: null,
        serverId: 1001,
        taskId: r.json.id,
        remote: '127.0.0.1',
        status: 202,
        errorCode: null,
      },
    ]);
  });

  it('records eq and DCImanager actions on the same terms; reads (GET, eq show) are not recorded', async () => {
    const before = (await audit()).total;
    expect((await call(site.tokens.admin, 'GET', '/api/v1/servers/1002')).status).toBe(200);
    expect((await call(site.tokens.admin, 'POST', '/api/eq', { action: 'show', id: '1002' }, true)).status).toBe(200);
    expect((await audit()).total).toBe(before);

    const off = await call(site.tokens.admin, 'POST', '/api/eq', { action: 'off', id: '1003' }, true);
    expect(off.status).toBe(200);
    const dci = await call(site.tokens.admin, 'POST', '/api/dci/v3/server/1004/power_on', {});
    expect(dci.status).toBe(200);
    const { list } = await audit('?limit=2');
    expect(list[1]).toMatchObject({ face: 'eq', method: 'POST', route: '/api/eq', action: 'off', serverId: 1003, taskId: off.json.task, tokenName: 'admin', status: 200 });
    expect(list[0]).toMatchObject({ face: 'dci', route: '/api/dci/v3/server/:id/power_on', serverId: 1004, taskId: dci.json.task, status: 200 });
  });

  it('records refusals with their status and error code, and requests without a valid token', async () => {
    const forbidden = await call(site.tokens.tech, 'POST', '/api/v1/servers/import', [{ id: 1001, rack: 'X' }]);
    expect(forbidden.status).toBe(403);
    const missing = await call(site.tokens.client, 'POST', '/api/v1/servers/1005/power', { action: 'off' });
    expect(missing.status).toBe(404);
    const anonymous = await call('rh_not-a-token', 'DELETE', '/api/v1/servers/1006');
    expect(anonymous.status).toBe(401);
    const { list } = await audit('?result=error&limit=3');
    expect(list.map((e: any) => [e.tokenName, e.method, e.route, e.serverId, e.status, e.errorCode])).toEqual([
      [null, 'DELETE', '/api/v1/servers/:id', 1006, 401, 'UNAUTHORIZED'],
      ['client', 'POST', '/api/v1/servers/:id/power', 1005, 404, 'NOT_FOUND'],
      ['tech', 'POST', '/api/v1/servers/import', null, 403, 'FORBIDDEN'],
    ]);
    expect(list[0].tokenId).toBeNull();
  });

  it('never keeps a secret: tokens, passwords, root passwords and body values stay out of the store', async () => {
    const made = await call(site.tokens.admin, 'POST', '/api/v1/tokens', { name: 'made-for-audit', role: 'tech' });
    expect(made.status).toBe(201);
    const user = await call(site.tokens.admin, 'POST', '/api/v1/servers/1007/bmc/users', { name: 'auditee', password: 'Bmc-User-Secret-1' });
    expect(user.status).toBe(202);
    const imp = await call(site.tokens.admin, 'POST', '/api/v1/servers/import', [{ id: 1008, bmc: { password: 'Imported-Secret-2' }, rack: 'Rack-Body-Value' }]);
    expect(imp.status).toBe(200);
    const reinstall = await call(site.tokens.admin, 'POST', '/api/eq', { action: 'reinstall', id: '1009', os_id: '1', root_pass: 'Root-Secret-Pass-3' }, true);
    expect(reinstall.status).toBe(200);
    const db = new Database(`${site.stateDir}/rackhand.db`, { readonly: true });
    try {
      const rows = JSON.stringify(db.prepare('SELECT * FROM audit_log').all());
      for (const secret of [made.json.token, site.tokens.admin, site.tokens.tech, 'Bmc-User-Secret-1', 'Imported-Secret-2', 'Root-Secret-Pass-3', 'Rack-Body-Value', 'auditee']) {
        expect(rows.includes(secret), secret).toBe(false);
      }
      expect(rows).toContain('"route":"/api/v1/tokens"');
    } finally {
      db.close();
    }
  });

  it('is for admins only, and filters by server, token and time', async () => {
    expect((await call(site.tokens.tech, 'GET', '/api/v1/audit')).json.error.code).toBe('FORBIDDEN');
    expect((await call(site.tokens.client, 'GET', '/api/v1/audit')).status).toBe(403);
    const byServer = await audit('?server=1001');
    expect(byServer.list.length).toBeGreaterThan(0);
    expect(byServer.list.every((e: any) => e.serverId === 1001)).toBe(true);
    const byToken = await audit(`?token_id=${tokenId('client')}`);
    expect(byToken.list.map((e: any) => e.tokenName)).toEqual(['client']);
    expect((await audit(`?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).total).toBe(0);
    expect((await call(site.tokens.admin, 'GET', '/api/v1/audit?result=maybe')).json.error.details.field).toBe('result');
  });

  it('the CLI prints it as a table (who, from where, request, server, task, result)', async () => {
    await buildCli();
    const r = await cliRunner().run(['audit', '--server', '1005'], { RACKHAND_URL: site.url, RACKHAND_TOKEN: site.tokens.admin, HOME: site.stateDir });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+WHO\s+FROM\s+REQUEST\s+SERVER\s+TASK\s+RESULT$/);
    expect(lines[1]).toMatch(new RegExp(`client \\(client #${tokenId('client')}\\)\\s+127\\.0\\.0\\.1\\s+POST /api/v1/servers/:id/power\\s+1005\\s+-\\s+404 NOT_FOUND$`));
    const json = await cliRunner().run(['audit', '--errors', '--json', '--limit', '1'], { RACKHAND_URL: site.url, RACKHAND_TOKEN: site.tokens.admin, HOME: site.stateDir });
    expect(JSON.parse(json.stdout)).toEqual(await audit('?result=error&limit=1'));
  }, 120_000);
});

describe('audit retention', () => {
  const entry = (at: string): AuditEntry => ({
    at,
    tokenId: 1,
    tokenName: 't',
    role: 'admin',
    face: 'v1',
    method: 'POST',
    route: '/api/v1/x',
    action: null,
    serverId: null,
    taskId: null,
    remote: '127.0.0.1',
    status: 200,
    errorCode: null,
  });

  it('keeps at most maxEntries (the newest) and nothing older than retentionDays, also between the hourly prunes', () => {
    const repo = new AuditRepo(openDatabase(':memory:', MIGRATIONS));
    const a = new Audit(repo, { retentionDays: 30, maxEntries: 1500 });
    const now = Date.now();
    a.record(entry(new Date(now - 40 * 86400_000).toISOString()));
    for (let i = 0; i < 2499; i++) a.record(entry(new Date(now - 1000 + i).toISOString()));
    // the 1000th entry since the last prune pruned: the old one went, and the count is bounded
    expect(repo.count()).toBeLessThanOrEqual(1500 + 999);
    a.prune(new Date(now));
    expect(repo.count()).toBe(1500);
    expect(repo.list({ limit: 1 }).list[0].at).toBe(new Date(now - 1000 + 2498).toISOString());
    expect(repo.list({ until: new Date(now - 86400_000).toISOString() }).total).toBe(0);
  });
});
