// Consoles through the RPC, end to end: a real rackhand process, `eq novnc` → the returned URL in Chromium →
// qemu's VNC screen; single-use tickets, stop_novnc, recreate_novnc, white_ip, Origin, a frozen VNC server.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';
import { canvasStats, launchChromium, startQemuVnc, waitFor, type Browser, type QemuVnc } from './console-peers.js';
import { connect } from './proxy-fixture.js';

const ARTIFACTS = path.resolve('test-artifacts/console');
let rh: RackhandProcess;
let qemu: QemuVnc;
let browser: Browser;
let admin: string;
const api = (tok?: string) => apiClient(() => rh.url, tok);
const eq = (p: Record<string, string | number>) => api().eq(p, admin);

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  qemu = await startQemuVnc();
  rh = await startRackhand({ config: { console: { handshakeTimeoutMs: 2000 } } });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  const servers = makeServers(2).map((s) => ({ ...s, console: { host: '127.0.0.1', port: qemu.port } }));
  expect((await api(admin).post('/api/v1/servers/import', servers)).status).toBe(200);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rh?.cleanup();
  await qemu?.stop();
});

async function open(url: string): Promise<Page> {
  const page = await browser.ctx.newPage();
  await page.goto(url, { waitUntil: 'load' });
  return page;
}
const state = (page: Page) =>
  page.evaluate(() => (window as unknown as { rackhandConsole?: { state: string; message: string } }).rackhandConsole ?? { state: 'none', message: '' });
const until = (page: Page, want: string, ms = 30_000) =>
  waitFor(async () => {
    const s = await state(page);
    return s.state === want ? s : null;
  }, `console state ${want}`, ms, 200);

describe('eq novnc / recreate_novnc / stop_novnc', () => {
  it('novnc returns a key and a URL whose page shows the remote screen; the ticket works once', async () => {
    const r = await eq({ action: 'novnc', id: 1 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ result: 'OK', action: 'novnc', id: 1, key: expect.any(String), session_id: expect.any(Number) });
    expect(r.json.url).toMatch(new RegExp(`^${rh.url}/console/\\?name=srv-1&ticketUrl=.*#ticket=[A-Za-z0-9_-]{40,}$`));
    const page = await open(r.json.url);
    try {
      const stats = await waitFor(async () => {
        const s = await page.evaluate(canvasStats);
        return s && s.distinct >= 2 && s.nonBlackFrac > 0.002 ? s : null;
      }, 'remote screen', 45_000, 250);
      expect(stats.w).toBeGreaterThan(100);
      expect(await page.textContent('#server-name')).toBe('srv-1');
      await page.screenshot({ path: path.join(ARTIFACTS, 'eq-novnc-qemu.png') });

      const again = await open(r.json.url);
      try {
        expect((await until(again, 'failed')).message).toMatch(/expired or was already used/);
      } finally {
        await again.close();
      }

      // stop_novnc closes the live viewer and the session's reconnect key.
      const stop = await eq({ action: 'stop_novnc', id: 1 });
      expect(stop.json).toMatchObject({ result: 'OK', stopped: 1 });
      expect((await until(page, 'disconnected')).message).toMatch(/stopped/);
      const refresh = await api().post(`/console/sessions/${r.json.key}/ticket`);
      expect(refresh.status).toBe(404);
    } finally {
      await page.close();
    }
    const audit = await api(admin).get('/api/v1/servers/1/console/sessions');
    expect(audit.json.list[0]).toMatchObject({ id: r.json.session_id, endReason: 'stopped', lastRemote: '127.0.0.1' });
    expect(audit.json.list[0].bytesDown).toBeGreaterThan(1000);
    expect(audit.json.list[0].connections).toBeGreaterThanOrEqual(1);
  });

  it('recreate_novnc gives a fresh URL and kills the old session', async () => {
    const first = await eq({ action: 'novnc', id: 2 });
    const page = await open(first.json.url);
    try {
      await until(page, 'connected');
      const again = await eq({ action: 'recreate_novnc', id: 2 });
      expect(again.json.key).not.toBe(first.json.key);
      await until(page, 'disconnected');
      expect((await api().post(`/console/sessions/${first.json.key}/ticket`)).status).toBe(404);
      const fresh = await api().post(`/console/sessions/${again.json.key}/ticket`);
      expect(fresh.json.ticket).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    } finally {
      await page.close();
    }
    await eq({ action: 'stop_novnc', id: 2 });
  });

  it('white_ip: a browser from another address is refused, and so is a ticket refresh', async () => {
    const r = await eq({ action: 'novnc', id: 1, white_ip: '198.51.100.7' });
    const page = await open(r.json.url);
    try {
      expect((await until(page, 'failed')).message).toMatch(/address is not allowed/);
    } finally {
      await page.close();
    }
    expect((await api().post(`/console/sessions/${r.json.key}/ticket`)).status).toBe(403);
    const bad = await eq({ action: 'novnc', id: 1, white_ip: 'not an ip' });
    expect(bad.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'white_ip' } });
  });

  it('a foreign Origin is refused at the upgrade', async () => {
    const r = await eq({ action: 'novnc', id: 1 });
    const ticket = new URL(r.json.url).hash.slice('#ticket='.length);
    const ws = connect(`${rh.url.replace('http', 'ws')}/console/ws?ticket=${ticket}`, { origin: 'http://evil.example' });
    const res = await ws.ended;
    expect(res.httpStatus).toBe(403);
    // The ticket was not consumed by the refused attempt: the same-origin page can still use it.
    const page = await open(r.json.url);
    try {
      await until(page, 'connected');
    } finally {
      await page.close();
    }
  });

  it('a frozen VNC server gives the browser a clear failure within the handshake timeout', async () => {
    const r = await eq({ action: 'novnc', id: 1 });
    qemu.freeze();
    try {
      const page = await open(r.json.url);
      try {
        expect((await until(page, 'failed', 15_000)).message).toMatch(/not responding/);
      } finally {
        await page.close();
      }
    } finally {
      qemu.thaw();
    }
  });

  it('a server without a console target is a clear error; a client cannot open others\' consoles', async () => {
    await api(admin).post('/api/v1/servers', { id: 50, name: 'no-console' });
    const r = await eq({ action: 'novnc', id: 50 });
    expect(r.json.error.code).toBe('CONSOLE_ERROR');
    expect(rh.output()).not.toMatch(/ticket=[A-Za-z0-9_-]{20,}/);
    expect(rh.output()).not.toMatch(/console\/sessions\/[A-Za-z0-9_-]{20,}/);
  });
});
