// The technician's page in headless Debian Chromium against a real rackhand HTTP server with simulated BMCs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestSite, type TestSite } from './test-site.js';

const ARTIFACTS = path.resolve('test-artifacts/web');
let site: TestSite;
let ctx: BrowserContext;
let udd: string;
const pageErrors: string[] = [];
const pages: Page[] = [];

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  site = await startTestSite({ stepDelayMs: 150 });
  udd = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-web-chrome-${process.pid}-`));
  ctx = await chromium.launchPersistentContext(udd, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1366, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // An action that cannot happen fails with its selector instead of hanging until the test timeout.
  ctx.setDefaultTimeout(15_000);
}, 120_000);

afterEach(async () => {
  for (const p of pages.splice(0)) await p.close().catch(() => {});
});

afterAll(async () => {
  await ctx?.close().catch(() => {});
  if (udd) fs.rmSync(udd, { recursive: true, force: true });
  await site?.close();
});

async function open(): Promise<Page> {
  const page = await ctx.newPage();
  pages.push(page);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
  await page.goto(site.url + '/');
  return page;
}

async function login(page: Page, token = site.tokens.tech) {
  await page.getByLabel('API token (tech or admin)').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#server-table tbody tr[data-id]').first().waitFor();
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const bmcOf = (id: number) => site.driver.state({ host: `198.51.100.${10 + (id - 1000)}`, port: 623 });
const powerOf = (id: number) => bmcOf(id).power;

describe('the technician page', () => {
  it('serves its files with a strict CSP and no third-party origin', async () => {
    const r = await fetch(site.url + '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await r.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(site.url + '/ui/app.js')).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(site.url + '/ui/../package.json')).status).toBe(404);
    expect((await fetch(site.url + '/ui/nope.js')).status).toBe(404);
  });

  it('logs in with a tech token (a wrong one or a client one is refused) and lists the servers', async () => {
    const page = await open();
    await page.getByLabel('API token (tech or admin)').fill('rh_not-a-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.locator('#login-error').textContent()).toMatch(/unknown or revoked/);
    await page.getByLabel('API token (tech or admin)').fill(site.tokens.client);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.locator('#login-error').textContent()).toMatch(/tech or admin/);
    await login(page);
    expect(await page.locator('#server-table tbody tr[data-id]').count()).toBe(12);
    expect(await page.locator('#who-name').textContent()).toBe('tech (tech)');
    await expect.poll(() => page.locator('#live.on').count()).toBe(1);
    // the token stays in this tab's sessionStorage: a reload keeps the session
    await page.reload();
    await page.locator('#server-table tbody tr[data-id]').first().waitFor();
    await shot(page, '01-servers');
    expect(pageErrors).toEqual([]);
  });

  it('finds a server by rack, MAC and IP and opens it', async () => {
    const page = await open();
    await login(page);
    const search = page.getByLabel('Find a server');
    await search.fill('A02');
    await expect.poll(() => page.locator('#server-table tbody tr[data-id]').count()).toBe(6);
    await search.fill('02:de:00:00:01:08');
    await expect.poll(() => page.locator('#server-table tbody tr[data-id]').count()).toBe(1);
    await search.fill('192.0.2.19');
    await expect.poll(() => page.locator('#server-table tbody tr[data-id]').count()).toBe(1);
    await page.getByRole('link', { name: 'demo-a02-05' }).click();
    await expect.poll(() => page.locator('#detail h2').textContent()).toContain('demo-a02-05');
    expect(await page.locator('#power-state').textContent()).toMatch(/unknown read never/);
    expect(await page.locator('#facts').textContent()).toContain('02:de:00:00:01:09');
    expect(page.url()).toMatch(/#\/server\/1009$/);
  });

  it('powers a server on and sees the state change; power off asks first', async () => {
    const page = await open();
    await login(page);
    await page.getByRole('link', { name: 'demo-a01-01' }).click();
    await page.locator('#power-on').click();
    await expect.poll(() => page.locator('#power-state .badge').textContent(), { timeout: 15_000 }).toBe('on');
    expect(powerOf(1001)).toBe('on');
    expect(await page.locator('#power-state time').textContent()).toMatch(/just now|s ago/);
    await expect.poll(() => page.locator('#server-tasks li.task-succeeded').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#server-table tr[data-id="1001"] .badge').first().textContent()).toBe('on');
    await shot(page, '02-powered-on');

    await page.locator('#power-off').click();
    await expect.poll(() => page.locator('#confirm[open]').count()).toBe(1);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await new Promise((r) => setTimeout(r, 300));
    expect(powerOf(1001)).toBe('on');
    await page.locator('#power-off').click();
    await page.locator('#confirm-ok').click();
    await expect.poll(() => page.locator('#power-state .badge').textContent(), { timeout: 15_000 }).toBe('off');
    expect(powerOf(1001)).toBe('off');
  });

  it('shows sensors with thresholds highlighted and a history chart', async () => {
    for (let i = 0; i < 3; i++) await site.sampler.sampleOnce();
    const page = await open();
    await login(page);
    await page.getByRole('link', { name: 'demo-a01-03' }).click();
    await page.locator('#history svg').first().waitFor();
    expect(await page.locator('#history figure').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#history polyline').first().getAttribute('points')).toMatch(/^[\d.]+,[\d.]+( [\d.]+,[\d.]+){2}$/);
    await page.getByRole('button', { name: 'Read sensors now' }).click();
    await page.locator('#sensors table').waitFor();
    const warn = page.locator('#sensors tr.sensor-warning');
    expect(await warn.count()).toBe(1);
    expect(await warn.textContent()).toMatch(/Inlet Temp83 degrees Cwarningwarn > 80, crit > 90/);
    // the worst status sorts first
    expect(await page.locator('#sensors tbody tr').first().getAttribute('class')).toBe('sensor-warning');
    await shot(page, '03-sensors');
  });

  it('validates the reinstall form, confirms, sends it, and follows its progress live', async () => {
    const page = await open();
    await login(page);
    await page.getByRole('link', { name: 'demo-a02-01' }).click();
    await expect.poll(() => page.locator('#ri-os option').count()).toBe(3);
    const before = site.requests.length;
    await page.getByRole('button', { name: 'Reinstall…' }).click();
    expect(await page.locator('#ri-error').textContent()).toMatch(/Choose an operating system.*at least 8/);
    expect(await page.locator('#ri-os').getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('ri-os');
    await page.getByLabel('Operating system').selectOption({ label: 'Debian 12' });
    await page.getByLabel('Root password').fill('s3cret-root-pass');
    await page.getByLabel('Host name').fill('bad_host\nname');
    await page.getByLabel('SSH public key (optional)').fill('not a key');
    await page.getByRole('button', { name: 'Reinstall…' }).click();
    expect(await page.locator('#ri-error').textContent()).toMatch(/host name.*SSH public key/);
    expect(site.requests.length).toBe(before);
    await page.getByLabel('Host name').fill('web01');
    await page.getByLabel('SSH public key (optional)').fill('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl tech@laptop');
    await page.getByRole('button', { name: 'Reinstall…' }).click();
    expect(await page.locator('#confirm-text').textContent()).toMatch(/Erase demo-a02-01 and install Debian 12/);
    await page.locator('#confirm-ok').click();
    await expect.poll(() => site.requests.length).toBe(before + 1);
    expect(site.requests.at(-1)).toEqual({
      url: '/api/v1/servers/1007/reinstall',
      body: { os_id: 1, root_pass: '<16 chars>', hostname: 'web01', ssh_key: expect.stringMatching(/^ssh-ed25519 /) },
    });
    // progress arrives over the event stream: the running task shows its current step
    await expect.poll(() => page.locator('#server-tasks li.task-running summary').textContent(), { timeout: 15_000 }).toMatch(/wait for the installer/);
    expect(await page.locator('#server-tasks li.task-running ol.steps li').count()).toBe(7);
    expect(await page.locator('#ri-pass').inputValue()).toBe('');
    await shot(page, '04-reinstall-running');
    site.releaseReinstall();
    await expect.poll(() => page.locator('#server-tasks li.task-succeeded').count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    await shot(page, '05-reinstall-done');
  });

  it('opens the console page in a new tab from the URL the API gives', async () => {
    const page = await open();
    await login(page);
    await page.getByRole('link', { name: 'demo-a01-05' }).click();
    const [tab] = await Promise.all([ctx.waitForEvent('page'), page.getByRole('button', { name: 'Open console' }).click()]);
    pages.push(tab);
    // the console page drops the ticket from its address bar once read: check what the page opened
    const opened = await page.evaluate(() => (window as unknown as { rackhand: { lastConsoleUrl: string } }).rackhand.lastConsoleUrl);
    expect(opened, opened).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/console\/\?name=demo-a01-05&ticketUrl=[^#]+#ticket=t-k1003x\d+$/,
    );
    await expect.poll(() => tab.url()).toMatch(/\/console\/\?name=demo-a01-05&ticketUrl=/);
    expect(new URL(tab.url()).origin).toBe(site.url);
    expect(site.requests.at(-1)!.url).toBe('/api/v1/servers/1003/console');
    await tab.waitForLoadState('domcontentloaded');
    await shot(tab, '06-console-tab');
  });

  it('BMC user add shows the password once; remove and BMC reset ask first', async () => {
    const page = await open();
    await login(page);
    await page.getByRole('link', { name: 'demo-a01-07' }).click();
    await page.getByLabel('New user').fill('tech2');
    await page.getByRole('button', { name: 'Add user' }).click();
    await expect.poll(() => page.locator('#bmc-user-result').textContent()).toMatch(/^User tech2 with password \S{8,20} \(shown once/);
    await expect.poll(() => bmcOf(1004).users.some((u) => u.name === 'tech2' && u.enabled), { timeout: 10_000 }).toBe(true);
    await page.getByLabel('Remove user').fill('tech2');
    await page.getByRole('button', { name: 'Remove user…' }).click();
    await page.locator('#confirm-ok').click();
    await expect.poll(() => bmcOf(1004).users.some((u) => u.name === 'tech2'), { timeout: 10_000 }).toBe(false);
    await page.getByRole('button', { name: 'Reset BMC…' }).click();
    expect(await page.locator('#confirm-title').textContent()).toBe('Reset BMC');
    await page.locator('#confirm-cancel').click();
    expect(bmcOf(1004).bmcResets).toBe(0);
  });

  it('adopts a discovered MAC into the inventory (admin token)', async () => {
    const page = await open();
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await login(page, site.tokens.admin);
    await page.getByRole('link', { name: 'Discovered' }).click();
    await page.getByRole('button', { name: 'Adopt 02:de:00:00:ff:01' }).click();
    await page.getByLabel('Server id').fill('2001');
    await page.getByLabel('Name').fill('new-box');
    await page.getByLabel('Rack').fill('A03');
    await shot(page, '07-adopt');
    await page.getByRole('button', { name: 'Add to inventory' }).click();
    await expect.poll(() => page.locator('#detail h2').textContent()).toContain('new-box');
    expect(await page.locator('#facts').textContent()).toContain('02:de:00:00:ff:01');
    expect(site.discovered.list().map((d) => d.mac)).toEqual(['02:de:00:00:ff:02']);
  });

  it('keyboard only: log in, find a server, power it on, power it off through the confirmation', async () => {
    const page = await ctx.newPage();
    pages.push(page);
    await page.goto(site.url + '/');
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    const focused = () => page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? `${el.tagName.toLowerCase()}#${el.id}|${el.textContent?.trim().slice(0, 40) ?? ''}` : '';
    });
    const tabTo = async (pred: (f: string) => boolean, max = 80) => {
      for (let i = 0; i < max; i++) {
        if (pred(await focused())) return;
        await page.keyboard.press('Tab');
      }
      throw new Error(`never focused; last ${await focused()}`);
    };
    await tabTo((f) => f.startsWith('input#token'));
    await page.keyboard.type(site.tokens.tech);
    await page.keyboard.press('Enter');
    await expect.poll(focused).toMatch(/^input#search/);
    await page.keyboard.type('demo-a02-07');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#server-table tbody tr[data-id]').count()).toBe(1);
    await tabTo((f) => f.startsWith('a#|demo-a02-07'));
    await page.keyboard.press('Enter');
    await expect.poll(focused).toMatch(/^h2#\|demo-a02-07/);
    await tabTo((f) => f.startsWith('button#power-on'));
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#power-state .badge').textContent(), { timeout: 15_000 }).toBe('on');
    expect(powerOf(1010)).toBe('on');
    await tabTo((f) => f.startsWith('button#power-off'));
    await page.keyboard.press('Enter');
    await expect.poll(focused).toBe('button#confirm-cancel|Cancel');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('button#confirm-ok|Power off');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#power-state .badge').textContent(), { timeout: 15_000 }).toBe('off');
    expect(powerOf(1010)).toBe('off');
    await shot(page, '08-keyboard');
    expect(pageErrors).toEqual([]);
  });
});
