// What the technician's page says about a server, in headless Chromium against the real agent: list and detail agree
// during a task, a refused BMC login is named as such, errors do not follow you, the 24-hour chart, the login hint.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { login, pageTestHooks, type PageBrowser } from './page-browser.js';
import type { TestSite } from './test-site.js';

let site: TestSite;
let browser: PageBrowser;
pageTestHooks({
  ready: (s, b) => {
    site = s;
    browser = b;
  },
});

async function openLoggedIn(): Promise<Page> {
  const page = await browser.open(site.url + '/');
  await login(page, site.tokens.tech);
  return page;
}

const api = async (method: string, p: string, body?: unknown) => {
  const r = await fetch(site.url + p, {
    method,
    headers: { authorization: `Bearer ${site.tokens.admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!r.ok) throw new Error(`${method} ${p}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
};

const rowBadges = (page: Page, id: number) => page.locator(`#server-table tr[data-id="${id}"] .badge`).allTextContents();

describe('the page tells the truth about a server', () => {
  it('list and detail show the same power while a task runs, both following its steps', async () => {
    const page = await openLoggedIn();
    await page.getByRole('link', { name: 'demo-a02-03' }).click();
    await expect.poll(() => page.locator('#power-state .badge').textContent()).toBe('unknown');
    expect((await rowBadges(page, 1008))[0]).toBe('unknown');
    // A deploy powers the host on, then waits for its installer: the task is running, the power is on.
    const task = await api('POST', '/api/v1/servers/1008/reinstall', { os_id: 'debian-12', root_pass: 'Deploy-pass-1' });
    expect(task).toMatchObject({ kind: 'deploy', serverId: 1008 });
    await expect.poll(() => page.locator('#server-tasks li.task-running summary').textContent(), { timeout: 15_000 }).toMatch(/wait for installer callback/);
    await expect.poll(() => page.locator('#power-state .badge').textContent()).toBe('on');
    await expect.poll(async () => (await rowBadges(page, 1008))[0]).toBe('on');
    expect((await api('GET', `/api/v1/tasks/${task.id}`)).state).toBe('running');
    // The list row follows the server it shows even when another server is open in the detail pane.
    await page.getByRole('link', { name: 'demo-a01-01' }).click();
    await expect.poll(() => page.locator('#detail h2').textContent()).toContain('demo-a01-01');
    expect((await site.installerCallback(1008)).status).toBe(200);
    await expect.poll(async () => (await api('GET', '/api/v1/tasks?server=1008')).tasks[0].state, { timeout: 15_000 }).toBe('succeeded');
    expect((await rowBadges(page, 1008))[0]).toBe('on');
    await browser.shot(page, 'state-01-list-detail-agree');
  });

  it('a wrong BMC password shows as a refused login, in the list and the detail, not as "unreachable"', async () => {
    // Someone changed the password on the BMC: rackhand's stored one is now wrong.
    const bmc = site.bmcOf(1011);
    bmc.users = [bmc.users[0], { id: 2, name: 'ADMIN', password: 'changed-on-the-bmc', enabled: true, privilege: 'administrator' }];
    await site.agent.parts.powerSync.syncOnce();
    expect((await api('GET', '/api/v1/servers/1011')).power.bmcReachable).toBe(false);
    const page = await openLoggedIn();
    await page.getByRole('link', { name: 'demo-a02-09' }).click();
    await page.locator('#power-on').click();
    await expect.poll(async () => (await api('GET', '/api/v1/tasks?server=1011')).tasks[0]?.error?.code, { timeout: 15_000 }).toBe('BMC_AUTH_FAILED');
    await expect.poll(async () => (await rowBadges(page, 1011))[1]).toBe('login refused');
    const detailBmc = page.locator('#facts dt:text-is("BMC") + dd');
    expect(await detailBmc.textContent()).toMatch(/^login refused/);
    expect(await detailBmc.locator('.badge').getAttribute('title')).toMatch(/user name or password/);
    // A fresh page knows it too: the failure comes from the server's own task history, not from this tab's memory.
    const fresh = await openLoggedIn();
    await expect.poll(async () => (await rowBadges(fresh, 1011))[1]).toBe('login refused');
    await browser.shot(page, 'state-02-bmc-login-refused');
  });

  it('a task that fails before its start is answered still says so; the error is gone on the next view', async () => {
    site.driver.injectFault(site.bmcKey(1012), { kind: 'unreachable' });
    try {
      const page = await openLoggedIn();
      await page.getByRole('link', { name: 'demo-a02-11' }).click();
      // A slow answer: the task's failure reaches the page by the event stream before the POST that started it.
      await page.route('**/api/v1/servers/1012/power', async (route) => {
        const answer = await route.fetch();
        const { id } = await answer.json();
        await expect.poll(async () => (await api('GET', `/api/v1/tasks/${id}`)).state).toBe('failed');
        await expect.poll(() => page.locator('#server-tasks li.task-failed').count()).toBe(1);
        await route.fulfill({ response: answer });
      });
      const answered = page.waitForEvent('requestfinished', (r) => r.url().endsWith('/api/v1/servers/1012/power'));
      await page.locator('#power-on').click();
      await expect.poll(() => page.locator('#status.error').textContent(), { timeout: 15_000 }).toMatch(/^Task \d+ \(power\) failed: /);
      await answered;
      // The page has had the answer (a rendered frame later) and still shows the failure, not "started".
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      expect(await page.locator('#status').textContent()).toMatch(/^Task \d+ \(power\) failed: /);
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Tasks' }).click();
      await page.locator('#all-tasks li').first().waitFor();
      expect(await page.locator('#status').textContent()).toBe('');
      expect(await page.locator('#status.error').count()).toBe(0);
    } finally {
      site.driver.clearFaults(site.bmcKey(1012));
    }
  });

  it('charts the last 24 hours of stored samples on a 24-hour axis, and a fresh read adds its point', async () => {
    const now = Date.now();
    const reading = (value: number) => ({ name: 'CPU1 Temp', type: 'temperature', value, unit: 'degrees C', status: 'ok' as const, thresholds: {} });
    // Samples 20, 12 and 6 hours ago, and one from two days ago that is outside the window.
    for (const [hoursAgo, value] of [[48, 70], [20, 30], [12, 31], [6, 32]] as const) {
      site.agent.repos.sensors.append(1005, [reading(value)], new Date(now - hoursAgo * 3600_000));
    }
    const page = await openLoggedIn();
    await page.getByRole('link', { name: 'demo-a01-09' }).click();
    const figure = page.locator('#history figure', { hasText: 'CPU1 Temp' });
    await figure.locator('polyline').waitFor();
    const positions = async () =>
      figure.evaluate((fig) => {
        const svg = fig.querySelector('svg')!;
        // The plot area's box, and the x of every sample drawn (the polyline's vertices).
        const plot = svg.querySelector('.plot') as SVGGraphicsElement | null;
        const vb = svg.viewBox.baseVal;
        const b = plot ? plot.getBBox() : { x: 4, width: vb.width - 8 };
        const xs = [...svg.querySelectorAll('polyline')].flatMap((l) => [...l.points].map((p) => p.x));
        return { fractions: xs.map((x) => (x - b.x) / b.width), labels: [...svg.querySelectorAll('text.tick')].map((t) => t.textContent) };
      });
    const before = await positions();
    // Where 24-hour axis puts them: 4/24, 12/24 and 18/24 of the way from "24 h ago" to "now".
    expect(before.fractions).toHaveLength(3);
    [4 / 24, 12 / 24, 18 / 24].forEach((want, i) => expect(Math.abs(before.fractions[i] - want), `point ${i}`).toBeLessThan(0.02));
    expect(before.labels[0]).toBe('24 h ago');
    expect(before.labels.at(-1)).toBe('now');

    await page.getByRole('button', { name: 'Read sensors now' }).click();
    await page.locator('#sensors table').waitFor();
    const live = await page.locator('#sensors tr', { hasText: 'CPU1 Temp' }).locator('td.num').textContent();
    await expect.poll(async () => (await positions()).fractions.length).toBe(4);
    const after = await positions();
    expect(after.fractions.at(-1)).toBeGreaterThan(0.99);
    expect(await figure.locator('figcaption strong').textContent()).toBe(live);
    await browser.shot(page, 'state-03-24h-chart');
  });

  it('the login hint names a command that works: it makes a token this page accepts', async () => {
    const page = await browser.open(site.url + '/');
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    const command = (await page.locator('#login-view .hint code.command').textContent()) ?? '';
    expect(command).toMatch(/^node bin\/rackhand\.js token create --role tech --name NAME$/);
    // Run as the hint says, in rackhand's directory, on the daemon's state dir (the daemon keeps running).
    const [bin, ...args] = command.replace('NAME', 'hint-check').split(' ');
    const run = await promisify(execFile)(bin === 'node' ? process.execPath : bin, args, {
      cwd: path.resolve('.'),
      env: { ...process.env, RACKHAND_STATE_DIR: site.stateDir, RACKHAND_LOG_LEVEL: 'silent' },
    });
    const token = run.stdout.trim();
    expect(token).toMatch(/^\S{20,}$/);
    await page.getByLabel('API token (tech or admin)').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#server-table tbody tr[data-id]').first().waitFor();
    expect(await page.locator('#who-name').textContent()).toBe('hint-check (tech)');
  });
});
