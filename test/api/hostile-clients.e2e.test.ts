// What an over-curious or hostile API client must not get (issue: one bad datagram must never take the site down,
// items 4 and 7): staff names in a client's task view, the framework's own error shape for a bad percent-encoding,
// a post_install_callback to any host on the management network, a bare body parser crash.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';

let rh: RackhandProcess;
let admin: string;
let central: string;
let client: string;
let receiver: Server;
let receiverUrl = '';
const received: { headers: IncomingMessage['headers']; body: string }[] = [];

const api = (tok: string) => apiClient(() => rh.url, tok);

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;
  rh = await startRackhand({
    config: {
      bmc: { sync: { enabled: false }, simulatedDelayMs: 2, powerPollMs: 50 },
      sensors: { enabled: false },
      // central's own receiver is allowed; nothing else is
      central: { callbackHosts: ['127.0.0.1'], callbackAttempts: 2, callbackBackoffMs: 50 },
    },
  });
  admin = rh.cli(['token', 'create', '--role', 'admin', '--name', 'alice-admin']).stdout.trim();
  central = rh.cli(['token', 'create', '--role', 'central', '--name', 'billing-bot']).stdout.trim();
  const owner = (await api(admin).post('/api/v1/users', { email: 'cust@example.com' })).json.id;
  client = (await api(admin).post('/api/v1/tokens', { name: 'cust', role: 'client', owner_id: owner })).json.token;
  expect((await api(admin).post('/api/v1/servers/import', makeServers(3, 1, { ownerId: (id) => (id === 1 ? owner : undefined) }))).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await rh?.cleanup();
  await new Promise((r) => receiver?.close(r));
});

async function waitTask(id: number, tok = admin): Promise<any> {
  for (let i = 0; i < 300; i++) {
    const t = (await api(tok).get(`/api/v1/tasks/${id}`)).json;
    if (t.state !== 'running' && t.state !== 'queued') return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${id} did not end`);
}

describe('what a client token sees', () => {
  it("a staff member's token name is not shown to a client; its own is", async () => {
    const byStaff = (await api(admin).post('/api/v1/servers/1/power', { action: 'on' })).json;
    await waitTask(byStaff.id);
    expect((await api(admin).get(`/api/v1/tasks/${byStaff.id}`)).json.requestedBy).toMatch(/alice-admin/);
    const seen = (await api(client).get(`/api/v1/tasks/${byStaff.id}`)).json;
    expect(seen.requestedBy).toBe('staff');
    expect(JSON.stringify((await api(client).get('/api/v1/tasks?server=1')).json)).not.toContain('alice-admin');
    const own = (await api(client).post('/api/v1/servers/1/power', { action: 'off' })).json;
    await waitTask(own.id, client);
    expect((await api(client).get(`/api/v1/tasks/${own.id}`)).json.requestedBy).toMatch(/client:cust#/);
  });
});

describe('errors in our shape', () => {
  it('a bad percent-encoding in the path or query answers INVALID_INPUT in the face\'s envelope', async () => {
    for (const path of ['/api/v1/servers/%E0%A4%A', '/api/dci/v3/server/%ff%', '/boot/ipxe/%zz']) {
      const r = await fetch(`${rh.url}${path}`, { headers: { authorization: `Bearer ${admin}` } });
      const body = await r.json();
      expect(r.status, path).toBe(400);
      expect(body, path).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
    const eq = await fetch(`${rh.url}/api/eq?action=show&id=%zz&token=${admin}`);
    expect(await eq.json()).toMatchObject({ result: 'ERROR', module: 'eq', error: { code: 'INVALID_INPUT' } });
  });

  it('random bodies, content types and encodings never get a non-JSON answer or a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/api/eq', '/api/v1/servers/import', '/api/dci/v3/server/1/operation_os', '/api/v1/servers/1/power', '/boot/agent/x/result'),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', '', 'multipart/form-data; boundary=x', 'application/json; charset=latin1'),
        fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')), fc.json({ maxDepth: 4 })),
        async (path, type, body) => {
          const r = await fetch(`${rh.url}${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${admin}`, ...(type ? { 'content-type': type } : {}) },
            body,
          });
          expect(r.status).toBeLessThan(500);
          const text = await r.text();
          if (r.status !== 204) expect(() => JSON.parse(text), `${path} ${type}: ${text.slice(0, 80)}`).not.toThrow();
        },
      ),
      { numRuns: 150 },
    );
    expect((await fetch(`${rh.url}/healthz`)).status).toBe(200);
  });
});

describe('post_install_callback', () => {
  it('only to the configured central hosts, unless an admin asks; http(s) only; refused at once', async () => {
    const elsewhere = await api(central).eq({ action: 'reinstall', id: 2, os_id: 900, root_pass: 'Cb-Root-1', imitate_deploy: 1, post_install_callback: 'http://10.11.12.13/steal' }, central);
    expect(elsewhere.status, elsewhere.text).toBe(403);
    expect(elsewhere.json.error.message).toMatch(/central\.callbackHosts/);
    const scheme = await api(central).eq({ action: 'reinstall', id: 2, os_id: 900, root_pass: 'Cb-Root-1', imitate_deploy: 1, post_install_callback: 'file:///etc/shadow' }, central);
    expect(scheme.status).toBe(400);
    const byAdmin = await api(admin).eq({ action: 'reinstall', id: 3, os_id: 900, root_pass: 'Cb-Root-1', imitate_deploy: 1, post_install_callback: 'http://127.0.0.2:9/anywhere' }, admin);
    expect(byAdmin.status, byAdmin.text).toBe(200);
    await waitTask(byAdmin.json.task);
  });

  it('is called on success and on failure, signed so the receiver can trust it', async () => {
    const key = rh.cli(['callback-key']).stdout.trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    received.length = 0;
    const ok = await api(central).eq({ action: 'reinstall', id: 2, os_id: 900, root_pass: 'Cb-Root-1', imitate_deploy: 1, post_install_callback: receiverUrl }, central);
    await waitTask(ok.json.task);
    const bad = await api(central).eq({ action: 'reinstall', id: 2, os_id: 900, root_pass: 'Cb-Root-1', imitate_error: 1, post_install_callback: receiverUrl }, central);
    await waitTask(bad.json.task);
    for (let i = 0; i < 100 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const bodies = received.map((r) => JSON.parse(r.body));
    expect(bodies).toEqual([
      expect.objectContaining({ server_id: 2, task: ok.json.task, status: 'ok', os_id: 'rackhand-test' }),
      expect.objectContaining({ server_id: 2, task: bad.json.task, status: 'failed', code: 'BOOT_ERROR', reason: expect.stringMatching(/imitated/) }),
    ]);
    const { createHmac } = await import('node:crypto');
    for (const r of received) {
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['x-rackhand-signature']))!;
      expect(createHmac('sha256', Buffer.from(key, 'hex')).update(`${t}.${r.body}`).digest('hex')).toBe(v1);
    }
  });
});
