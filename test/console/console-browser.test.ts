// End to end in headless Chromium: console page + VncProxy on a real http.Server, qemu's VNC server behind it.
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsolePageHandler } from '../../src/console/console-page.js';
import type { ConsoleGrant } from '../../src/console/vnc-proxy.js';
import { canvasStats, launchChromium, startQemuVnc, waitFor, type Browser, type QemuVnc } from './console-peers.js';
import { startProxy, type ProxyFixture } from './proxy-fixture.js';

const ARTIFACTS = path.resolve('test-artifacts/console');
const HANDSHAKE_MS = 2_000;

let qemu: QemuVnc;
let browser: Browser;
let p: ProxyFixture;
let foreign: http.Server;
let foreignPort = 0;
const grants = new Map<string, ConsoleGrant>();
const pageLogs: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  qemu = await startQemuVnc();
  const pageHandler = createConsolePageHandler();
  p = await startProxy({ handshakeTimeoutMs: HANDSHAKE_MS }, (req, res) => {
    // The lead's API provides this endpoint; here it is a stub that mints a fresh ticket for the session.
    const m = /^\/test\/tickets\/([\w-]+)$/.exec(req.url ?? '');
    if (m && req.method === 'POST') {
      const g = grants.get(m[1]);
      if (!g) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ticket: p.authority.issue(g) }));
      return;
    }
    if (!pageHandler(req, res)) res.writeHead(404).end();
  });
  foreign = http.createServer((req, res) => {
    const ticket = new URL(req.url ?? '/', 'http://x').searchParams.get('t') ?? '';
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><script>
      window.result = new Promise((resolve) => {
        const ws = new WebSocket('ws://127.0.0.1:${p.port}/console/ws?ticket=${ticket}', ['binary']);
        ws.onopen = () => resolve({ opened: true });
        ws.onclose = (e) => resolve({ opened: false, code: e.code });
      });</script>`);
  });
  await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', () => r()));
  foreignPort = (foreign.address() as net.AddressInfo).port;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await p?.close();
  await new Promise<void>((r) => (foreign ? foreign.close(() => r()) : r()));
  await qemu?.stop();
});

function newSession(extra: Partial<ConsoleGrant> = {}): { grant: ConsoleGrant; url: string } {
  const grant = p.grant(qemu.port, { serverName: 'node-07', ...extra });
  grants.set(grant.sessionId, grant);
  const ticket = p.authority.issue(grant);
  const q = new URLSearchParams({ name: 'node-07 (rack 3)', ticketUrl: `/test/tickets/${grant.sessionId}` });
  return { grant, url: `http://127.0.0.1:${p.port}/console/?${q}#ticket=${ticket}` };
}

async function openPage(url: string): Promise<Page> {
  const page = await browser.ctx.newPage();
  page.on('console', (m) => pageLogs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLogs.push(`pageerror: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  return page;
}

const consoleState = (page: Page) => page.evaluate(() => {
  const v = (window as unknown as { rackhandConsole?: { state: string; message: string } }).rackhandConsole;
  return { state: v?.state ?? 'none', message: v?.message ?? '', status: document.getElementById('status')?.textContent ?? '' };
});

async function waitForPicture(page: Page) {
  return waitFor(async () => {
    const s = await page.evaluate(canvasStats);
    return s && s.distinct >= 2 && s.nonBlackFrac > 0.002 ? s : null;
  }, 'the remote screen on the canvas', 45_000, 250);
}

describe('console page in Chromium', () => {
  it('shows the remote screen of a real VNC server, with name, state and Ctrl-Alt-Del', async () => {
    const { grant, url } = newSession();
    const page = await openPage(url);
    try {
      const stats = await waitForPicture(page);
      expect(stats.w).toBeGreaterThan(100);
      expect(await consoleState(page)).toMatchObject({ state: 'connected', status: 'connected' });
      expect(await page.textContent('#server-name')).toBe('node-07 (rack 3)');
      // The ticket left the address bar as soon as the page read it.
      expect(page.url()).not.toContain('ticket=');
      await page.screenshot({ path: path.join(ARTIFACTS, 'console-qemu.png') });
      const canvas = await page.$('#screen canvas');
      await canvas?.screenshot({ path: path.join(ARTIFACTS, 'console-qemu-canvas.png') });

      const before = p.proxy.connections().find((c) => c.sessionId === grant.sessionId)!.bytesUp;
      expect(await page.isEnabled('#cad')).toBe(true);
      await page.click('#cad');
      // Six key events of 8 bytes each reach the VNC server.
      await waitFor(() => p.proxy.connections().find((c) => c.sessionId === grant.sessionId)!.bytesUp >= before + 48, 'Ctrl-Alt-Del bytes');

      // Fit-to-window scales the canvas to the viewport; off shows it at its native size.
      await page.setViewportSize({ width: 500, height: 400 });
      await waitFor(async () => (await page.evaluate(() => document.querySelector('#screen canvas')!.clientWidth)) <= 500, 'scaled canvas');
      await page.uncheck('#fit');
      await waitFor(async () => {
        const [cw, w] = await page.evaluate(() => {
          const c = document.querySelector('#screen canvas') as HTMLCanvasElement;
          return [c.clientWidth, c.width];
        });
        return cw === w;
      }, 'unscaled canvas');
    } finally {
      await page.close();
    }
  });

  it('refuses the same ticket twice and says so on the page', async () => {
    const { url } = newSession();
    const first = await openPage(url);
    try {
      await waitFor(async () => (await consoleState(first)).state === 'connected', 'first page connected', 30_000);
      const again = await openPage(url);
      try {
        const s = await waitFor(async () => {
          const st = await consoleState(again);
          return st.state === 'failed' ? st : null;
        }, 'second page to fail');
        expect(s.message).toMatch(/expired or was already used/);
        await again.screenshot({ path: path.join(ARTIFACTS, 'console-ticket-reused.png') });
      } finally {
        await again.close();
      }
    } finally {
      await first.close();
    }
  });

  it('closeSession (stop_novnc) ends the live console in the browser; Reconnect gets a fresh ticket', async () => {
    const { grant, url } = newSession();
    const page = await openPage(url);
    try {
      await waitForPicture(page);
      expect(p.proxy.closeSession(grant.sessionId, 'stopped by operator')).toBe(1);
      const s = await waitFor(async () => {
        const st = await consoleState(page);
        return st.state === 'disconnected' ? st : null;
      }, 'page to show the stop');
      expect(s.message).toMatch(/session was stopped/);
      expect(s.message).toMatch(/stopped by operator/);
      expect(await page.isVisible('#reconnect')).toBe(true);
      await page.screenshot({ path: path.join(ARTIFACTS, 'console-stopped.png') });
      await page.click('#reconnect');
      await waitFor(async () => (await consoleState(page)).state === 'connected', 'reconnected', 30_000);
      await waitForPicture(page);
    } finally {
      await page.close();
    }
  });

  it('refuses a browser outside white_ip', async () => {
    const { url } = newSession({ allowedIps: ['198.51.100.0/24'] });
    const page = await openPage(url);
    try {
      const s = await waitFor(async () => {
        const st = await consoleState(page);
        return st.state === 'failed' ? st : null;
      }, 'page to fail');
      expect(s.message).toMatch(/address is not allowed/);
    } finally {
      await page.close();
    }
  });

  it('refuses a websocket from a foreign origin without consuming the ticket', async () => {
    const { grant } = newSession();
    const ticket = p.authority.issue(grant);
    const attempts = p.authority.attempts.length;
    const page = await openPage(`http://127.0.0.1:${foreignPort}/?t=${ticket}`);
    try {
      const result = await page.evaluate(() => (window as unknown as { result: Promise<{ opened: boolean; code?: number }> }).result);
      expect(result).toEqual({ opened: false, code: 1006 });
      expect(p.authority.attempts.length).toBe(attempts);
      expect(p.proxy.stats().closes.http_403).toBeGreaterThanOrEqual(1);
    } finally {
      await page.close();
    }
  });

  it('a frozen (SIGSTOPped) VNC server gives a clear failure within the handshake timeout', async () => {
    const { url } = newSession();
    qemu.freeze();
    try {
      const page = await openPage(url);
      try {
        const s = await waitFor(async () => {
          const st = await consoleState(page);
          return st.state === 'failed' ? st : null;
        }, 'page to report the frozen server', HANDSHAKE_MS + 8_000);
        expect(s.message).toMatch(/not responding/);
        expect(s.message).toMatch(/no RFB greeting within 2 s/);
        await page.screenshot({ path: path.join(ARTIFACTS, 'console-frozen.png') });
      } finally {
        await page.close();
      }
    } finally {
      qemu.thaw();
    }
  });

  it('leaves no console connection behind', async () => {
    await waitFor(() => p.proxy.stats().activeConnections === 0, 'all console connections closed', 15_000);
    expect(pageLogs.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  });
});
