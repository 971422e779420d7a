// The OpenAPI document is typed for every request body and every answer of /api/v1, and the types are true: every
// v1 endpoint is called on the real agent and its answer checked against its row's (strict) response schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { startTestSite, type TestSite } from '../web/test-site.js';
import { v1Face } from '../../src/api/v1/v1-face.js';
import { placeholderImportArgs } from '../harness/placeholder-images.js';

let site: TestSite;
let doc: any;

beforeAll(async () => {
  site = await startTestSite();
  doc = await (await fetch(`${site.url}/api/v1/openapi.json`)).json();
});
afterAll(async () => site?.close());

const openapiPath = (p: string) => p.replace(/:(\w+)/g, '{$1}');
/** A schema that says something: a type, properties, or alternatives — not `{}` (anything). */
const typed = (s: any) => !!s && (s.type !== undefined || s.properties !== undefined || s.anyOf !== undefined || s.oneOf !== undefined || s.$ref !== undefined);

describe('the OpenAPI document', () => {
  it('types every /api/v1 answer (204s aside) and every request body', () => {
    const untypedAnswers: string[] = [];
    const untypedBodies: string[] = [];
    for (const e of v1Face.endpoints) {
      const op = doc.paths[openapiPath(e.path)]?.[e.method.toLowerCase()];
      expect(op, `${e.method} ${e.path}`).toBeDefined();
      const ok = op.responses[String(e.status ?? 200)];
      const content = ok.content && Object.values(ok.content)[0];
      if (e.status !== 204 && !typed((content as any)?.schema)) untypedAnswers.push(`${e.method} ${e.path}`);
      if (e.body && !typed(op.requestBody?.content['application/json'].schema)) untypedBodies.push(`${e.method} ${e.path}`);
    }
    expect(untypedAnswers).toEqual([]);
    expect(untypedBodies).toEqual([]);
  });

  it('documents the server write shape for imports and PUT, and the server record with power.bmcError', () => {
    const put = doc.paths['/api/v1/servers/{id}'].put;
    expect(Object.keys(put.requestBody.content['application/json'].schema.properties)).toEqual(expect.arrayContaining(['name', 'rack', 'interfaces', 'bmc', 'console']));
    expect(put.parameters.map((p: any) => p.name)).toEqual(['id', 'mode']);
    const imp = doc.paths['/api/v1/servers/import'].post;
    expect(imp.parameters.map((p: any) => p.name)).toEqual(['mode', 'dry_run']);
    expect(imp.requestBody.content['application/json'].schema.anyOf[0].items.properties.bmc).toBeDefined();
    const server = doc.paths['/api/v1/servers/{id}'].get.responses['200'].content['application/json'].schema;
    expect(server.properties.power.properties.bmcError).toBeDefined();
    expect(server.properties.netboot).toBeDefined();
    expect(doc.paths['/api/v1/events'].get.responses['200'].content['text/event-stream']).toBeDefined();
  });
});

describe('every /api/v1 answer matches its documented schema', () => {
  const checked = new Set<string>();
  const schemaOf = (method: string, path: string) => v1Face.endpoints.find((e) => e.method === method && e.path === path)!;

  /**
   * Calls the endpoint (`route` is the row's path, `url` the concrete one) and checks the answer against the row;
   * `status` when the row answers more than one (201 created, 200 changed).
   */
  async function check(method: string, route: string, url: string, body?: unknown, status?: number): Promise<any> {
    const e = schemaOf(method, route);
    expect(e, `${method} ${route}`).toBeDefined();
    const res = await fetch(site.url + url, {
      method,
      headers: { authorization: `Bearer ${site.tokens.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    expect(res.status, `${method} ${url}: ${text.slice(0, 300)}`).toBe(status ?? e.status ?? 200);
    checked.add(`${method} ${route}`);
    if (e.status === 204) return undefined;
    const json = JSON.parse(text);
    const r = (e.response as z.ZodType).safeParse(json);
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`), `${method} ${url}`).toEqual([]);
    return json;
  }

  it('servers, BMC, netboot, consoles, tasks, users, tokens, audit, switches', async () => {
    await check('GET', '/api/v1/whoami', '/api/v1/whoami');
    await check('GET', '/api/v1/servers', '/api/v1/servers?limit=3');
    await check('POST', '/api/v1/servers', '/api/v1/servers', { id: 3001, name: 'schema-1' }, 201);
    await check('POST', '/api/v1/servers/import', '/api/v1/servers/import', [{ id: 3002, name: 'schema-2' }]);
    await check('POST', '/api/v1/servers/import', '/api/v1/servers/import?dry_run=1', [{ id: 3002, rack: 'R1', bmc: { host: '10.0.0.1', username: 'u', password: 'p' } }]);
    await check('GET', '/api/v1/servers/:id', '/api/v1/servers/1001');
    await check('PUT', '/api/v1/servers/:id', '/api/v1/servers/3001', { rack: 'R2' });
    await check('DELETE', '/api/v1/servers/:id', '/api/v1/servers/3001');
    await check('POST', '/api/v1/power-sync', '/api/v1/power-sync');
    await check('POST', '/api/v1/sensor-sync', '/api/v1/sensor-sync');
    await check('POST', '/api/v1/servers/:id/power', '/api/v1/servers/1001/power', { action: 'on' });
    await check('POST', '/api/v1/servers/:id/boot-device', '/api/v1/servers/1002/boot-device', { device: 'pxe' });
    await check('GET', '/api/v1/servers/:id/sensors', '/api/v1/servers/1003/sensors');
    await check('GET', '/api/v1/servers/:id/sensors/history', '/api/v1/servers/1003/sensors/history?hours=1');
    site.driver.addEvent({ host: '198.51.100.13', port: 623 }, { severity: 'critical', message: 'temperature sensor 1: upper critical going high (asserted)' });
    const log = await check('GET', '/api/v1/servers/:id/event-log', '/api/v1/servers/1003/event-log');
    expect(log.entries).toEqual([expect.objectContaining({ severity: 'critical', message: 'temperature sensor 1: upper critical going high (asserted)' })]);
    await check('DELETE', '/api/v1/servers/:id/event-log', '/api/v1/servers/1003/event-log');
    await check('POST', '/api/v1/servers/:id/bmc/users', '/api/v1/servers/1004/bmc/users', {});
    await check('DELETE', '/api/v1/servers/:id/bmc/users/:name', '/api/v1/servers/1005/bmc/users/nobody');
    await check('POST', '/api/v1/servers/:id/bmc/reset', '/api/v1/servers/1006/bmc/reset', { kind: 'warm' });
    const rf = await check('POST', '/api/v1/servers', '/api/v1/servers', { id: 3005, name: 'schema-redfish', bmc: { driver: 'redfish', host: '192.0.2.5', username: 'u', password: 'p' } }, 201);
    expect(rf).toMatchObject({ bootVia: 'pxe', bmc: { driver: 'redfish', port: 443, scheme: 'https', legacyTls: false } });
    site.agent.repos.certificatePins.record('192.0.2.5:443', { fingerprint256: 'AB:CD', subject: 'CN=bmc', validTo: 'Jan  1 00:00:00 2035 GMT', pinnedAt: new Date().toISOString() });
    expect((await check('GET', '/api/v1/servers/:id/bmc/certificate', '/api/v1/servers/3005/bmc/certificate')).pinned).toMatchObject({ fingerprint256: 'AB:CD' });
    expect((await check('DELETE', '/api/v1/servers/:id/bmc/certificate', '/api/v1/servers/3005/bmc/certificate')).forgotten).toMatchObject({ fingerprint256: 'AB:CD' });
    await check('GET', '/api/v1/os', '/api/v1/os');
    const deploy = await check('POST', '/api/v1/servers/:id/reinstall', '/api/v1/servers/1007/reinstall', { os_id: 'debian-12', root_pass: 'Deploy-pass-1' });
    await expect.poll(async () => (await check('GET', '/api/v1/servers/:id/netboot', '/api/v1/servers/1007/netboot')).armed).toBe(true);
    await check('GET', '/api/v1/servers/:id', '/api/v1/servers/1007');
    await check('GET', '/api/v1/tasks/:id', `/api/v1/tasks/${deploy.id}`);
    await check('POST', '/api/v1/tasks/:id/cancel', `/api/v1/tasks/${deploy.id}/cancel`);
    await check('DELETE', '/api/v1/servers/:id/netboot', '/api/v1/servers/1008/netboot');
    await check('GET', '/api/v1/tasks', '/api/v1/tasks?limit=50');
    await check('GET', '/api/v1/discovered', '/api/v1/discovered');
    expect((await fetch(`${site.url}/boot/ipxe/02:de:00:00:ff:01`)).status).toBe(404); // a history to show
    await check('GET', '/api/v1/discovered/:mac/boot-history', '/api/v1/discovered/02:de:00:00:ff:01/boot-history');
    await check('GET', '/api/v1/servers/:id/boot-history', '/api/v1/servers/1007/boot-history');
    await check('POST', '/api/v1/discovered/:mac/adopt', '/api/v1/discovered/02:de:00:00:ff:01/adopt', { id: 3003, name: 'adopted' });
    await check('POST', '/api/v1/servers/:id/console', '/api/v1/servers/1009/console', {});
    await check('GET', '/api/v1/servers/:id/console/sessions', '/api/v1/servers/1009/console/sessions');
    await check('DELETE', '/api/v1/servers/:id/console', '/api/v1/servers/1009/console');
    await check('GET', '/api/v1/users', '/api/v1/users');
    await check('POST', '/api/v1/users', '/api/v1/users', { email: 'schema@example.com' });
    const tok = await check('POST', '/api/v1/tokens', '/api/v1/tokens', { name: 'schema', role: 'tech' });
    await check('GET', '/api/v1/tokens', '/api/v1/tokens');
    await check('DELETE', '/api/v1/tokens/:id', `/api/v1/tokens/${tok.id}`);
    await check('GET', '/api/v1/audit', '/api/v1/audit?limit=100');
    await check('POST', '/api/v1/switches', '/api/v1/switches', { name: 'sw-schema', address: '192.0.2.1', community: 'public' }, 201);
    await check('GET', '/api/v1/switches', '/api/v1/switches');
    await check('GET', '/api/v1/switches/:name', '/api/v1/switches/sw-schema');
    await check('DELETE', '/api/v1/switches/:name', '/api/v1/switches/sw-schema');
  });

  it('images, rescue, inspection and the inspected hardware', async () => {
    const a = placeholderImportArgs('schema-netboot');
    const arg = (flag: string) => a[a.indexOf(flag) + 1];
    const imported = await check('POST', '/api/v1/images', '/api/v1/images', {
      name: 'schema-netboot',
      netboot: { kernel: arg('--kernel'), kernelSha256: arg('--kernel-sha256'), initrd: arg('--initrd'), initrdSha256: arg('--initrd-sha256') },
    });
    await expect.poll(async () => (await check('GET', '/api/v1/tasks/:id', `/api/v1/tasks/${imported.id}`)).state).toBe('succeeded');
    await check('GET', '/api/v1/images', '/api/v1/images');
    await check('GET', '/api/v1/images/:name', '/api/v1/images/schema-netboot');
    const verify = await check('POST', '/api/v1/images/:name/verify', '/api/v1/images/schema-netboot/verify');
    await expect.poll(async () => (await check('GET', '/api/v1/tasks/:id', `/api/v1/tasks/${verify.id}`)).state).toBe('succeeded');
    await check('DELETE', '/api/v1/images/:name', '/api/v1/images/schema-netboot');
    // Building runs debootstrap-class work: only its answer is checked here, then the task is cancelled.
    const build = await check('POST', '/api/v1/images/build', '/api/v1/images/build');
    await fetch(`${site.url}/api/v1/tasks/${build.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${site.tokens.admin}` } });

    await check('POST', '/api/v1/servers/:id/rescue', '/api/v1/servers/1011/rescue', { ssh_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ0 schema' });
    await check('POST', '/api/v1/servers/:id/inspect', '/api/v1/servers/1012/inspect');
    site.agent.repos.servers.saveInspection(1012, { system: { vendor: 'QEMU', model: 'Standard PC' }, memoryBytes: 2 ** 30, disks: [], nics: [] }, null);
    await check('GET', '/api/v1/servers/:id/hardware', '/api/v1/servers/1012/hardware');
  });

  it('the event stream: each event\'s data matches the documented event schema', async () => {
    const abort = new AbortController();
    const res = await fetch(`${site.url}/api/v1/events?server=1010`, { headers: { authorization: `Bearer ${site.tokens.admin}` }, signal: abort.signal });
    const reader = res.body!.getReader();
    const started = await fetch(`${site.url}/api/v1/servers/1010/power`, {
      method: 'POST',
      headers: { authorization: `Bearer ${site.tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'on' }),
    });
    expect(started.status).toBe(202);
    let text = '';
    const events: unknown[] = [];
    while (events.length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      for (const m of text.matchAll(/^data: (.*)$/gm)) events.push(JSON.parse(m[1]));
      text = text.slice(text.lastIndexOf('\n') + 1);
    }
    abort.abort();
    const schema = schemaOf('GET', '/api/v1/events').response as z.ZodType;
    for (const ev of events) expect(schema.safeParse(ev).success, JSON.stringify(ev)).toBe(true);
    checked.add('GET /api/v1/events');
  });

  it('covered every /api/v1 endpoint', () => {
    expect(v1Face.endpoints.map((e) => `${e.method} ${e.path}`).filter((k) => !checked.has(k))).toEqual([]);
  });
});
