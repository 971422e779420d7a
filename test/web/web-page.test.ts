// The technician's page in headless Debian Chromium against the real rackhand agent (simulated BMCs, the real
// deploy workflow, real console sessions to qemu's VNC server).
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DEPLOY_STEPS, type TestSite } from './test-site.js';
import { focusStop, pageTestHooks, tabTo, type PageBrowser } from './page-browser.js';
import { startQemuVnc, type QemuVnc } from '../console/console-peers.js';
import { sha512Crypt } from '../../src/boot/templates/sha512-crypt.js';

let site: TestSite;
let vnc: QemuVnc | undefined;
let browser: PageBrowser;
pageTestHooks({
  // Every demo server's console target is a real VNC server: the console tab connects through the proxy.
  options: async () => {
    vnc = await startQemuVnc();
    return { vnc: { host: '127.0.0.1', port: vnc.port } };
  },
  ready: (s, b) => {
    site = s;
    browser = b;
  },
  teardown: async () => {
    await vnc?.stop();
  },
});

const open = (): Promise<Page> => browser.open(site.url + '/');
const pageErrors = (): string[] => browser.errors;

async function login(page: Page, token = site.tokens.tech) {
  await page.getByLabel('API token (tech or admin)').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#server-table tbody tr[data-id]').first().waitFor();
}

const shot = (page: Page, name: string) => browser.shot(page, name);
const bmcOf = (id: number) => site.bmcOf(id);
const powerOf = (id: number) => bmcOf(id).power;
const apiGet = async (p: string) => {
  const r = await fetch(site.url + p, { headers: { authorization: `Bearer ${site.tokens.admin}` } });
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
};

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
    expect(pageErrors()).toEqual([]);
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
    await expect.poll(() => page.locator('#confirm[open]').count()).toBe(0);
    await page.locator('#power-off').click();
    await page.locator('#confirm-ok').click();
    await expect.poll(() => page.locator('#power-state .badge').textContent(), { timeout: 15_000 }).toBe('off');
    expect(powerOf(1001)).toBe('off');
    // The cancelled dialog sent nothing: the one confirmed click is the only power-off task.
    const offs = (await apiGet('/api/v1/tasks?server=1001')).tasks.filter((t: { kind: string; params: { action?: string } }) => t.kind === 'power' && t.params.action === 'off');
    expect(offs).toHaveLength(1);
  });

  it('shows sensors with thresholds highlighted and a history chart', async () => {
    for (let i = 0; i < 3; i++) await site.agent.parts.sampler.sampleOnce();
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

  it('validates the reinstall form, confirms, runs the real deploy, and follows its progress live', async () => {
    const page = await open();
    await login(page);
    await page.getByRole('link', { name: 'demo-a02-01' }).click();
    // the OS choices are the agent's installable catalogue (no diagnostics or wipe images), after "Choose…"
    const all: { id: number | null; os_id: string; name: string; family: string }[] = (await apiGet('/api/v1/os')).list;
    const catalogue = all.filter((o) => !['diag', 'wipe'].includes(o.family));
    expect(catalogue.map((o) => o.name)).toContain('Debian 12 (bookworm)');
    expect(catalogue.length).toBeLessThan(all.length);
    await expect.poll(() => page.locator('#ri-os option').count()).toBe(catalogue.length + 1);
    expect(await page.locator('#ri-os option').allTextContents()).toEqual(['Choose…', ...catalogue.map((o) => o.name)]);
    expect(await page.locator('#netboot-state').textContent()).toBe('not armed: boots from disk');
    const deploys = async () => (await apiGet('/api/v1/tasks?server=1007')).tasks.filter((t: { kind: string }) => t.kind === 'deploy');
    await page.getByRole('button', { name: 'Reinstall…' }).click();
    expect(await page.locator('#ri-error').textContent()).toMatch(/Choose an operating system.*at least 8/);
    expect(await page.locator('#ri-os').getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('ri-os');
    await page.getByLabel('Operating system').selectOption({ label: 'Debian 12 (bookworm)' });
    await page.getByLabel('Root password').fill('S3cret-root-pass');
    await page.getByLabel('Host name').fill('bad_host\nname');
    await page.getByLabel('SSH public key (optional)').fill('not a key');
    await page.getByRole('button', { name: 'Reinstall…' }).click();
    expect(await page.locator('#ri-error').textContent()).toMatch(/host name.*SSH public key/);
    // refused in the page: nothing reached rackhand
    expect(await deploys()).toEqual([]);
    expect(site.agent.core.netboot.state(1007)).toBeUndefined();
    const sshKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl tech@laptop';
    await page.getByLabel('Host name').fill('web01');
    await page.getByLabel('SSH public key (optional)').fill(sshKey);
    await page.getByRole('button', { name: 'Reinstall…' }).click();
    expect(await page.locator('#confirm-text').textContent()).toMatch(/Erase demo-a02-01 and install Debian 12/);
    await page.locator('#confirm-ok').click();

    // The real deploy: one task with what the form said (the password is a secret: never in the task's params).
    await expect.poll(async () => (await deploys()).length).toBe(1);
    const [task] = await deploys();
    expect(task.params).toMatchObject({ purpose: 'install', os_id: 'debian-12', install: { hostname: 'web01', ssh_key: sshKey } });
    expect(JSON.stringify(task)).not.toContain('S3cret-root-pass');
    // progress arrives over the event stream: the running task shows its current step
    await expect.poll(() => page.locator('#server-tasks li.task-running summary').textContent(), { timeout: 15_000 }).toMatch(/wait for installer callback/);
    expect(await page.locator('#server-tasks li.task-running ol.steps li').count()).toBe(7);
    expect(await page.locator('#ri-pass').inputValue()).toBe('');
    // the facts follow the steps: armed for the network boot, powered on
    await expect.poll(() => page.locator('#netboot-state').textContent()).toMatch(/^armed: install debian-12, since (just now|\d+ s ago) \(task \d+\)$/);
    await expect.poll(() => page.locator('#power-state .badge').textContent()).toBe('on');
    // the host is armed, booting from the network, and its installer config carries the form's values
    const nb = site.agent.core.netboot.state(1007)!;
    expect(nb).toMatchObject({ purpose: 'install', osId: 'debian-12', taskId: task.id, callbackAt: null });
    expect(bmcOf(1007).boot).toMatchObject({ device: 'pxe', persistent: false });
    expect(powerOf(1007)).toBe('on');
    const preseed = await (await fetch(`${site.url}/boot/install/${nb.token}/preseed`)).text();
    expect(preseed).toMatch(/^d-i netcfg\/get_hostname string web01$/m);
    expect(preseed).toContain(sshKey);
    const hash = /^d-i passwd\/root-password-crypted password (\$6\$\S+)$/m.exec(preseed)?.[1];
    expect(hash && sha512Crypt('S3cret-root-pass', hash)).toBe(hash);
    await shot(page, '04-reinstall-running');
    // a reload finds the running deploy and the armed netboot through the API
    await page.reload();
    await page.locator('#server-tasks li.task-running').waitFor();
    // the tasks and the server's facts come from separate requests: either may render first
    await expect.poll(() => page.locator('#netboot-state').textContent()).toMatch(/^armed: install debian-12, since (just now|\d+ s ago) \(task \d+\)$/);

    // The installer calls back: the deploy disarms, boots from disk, reboots and succeeds.
    const cb = await site.installerCallback(1007);
    expect(cb.status).toBe(200);
    await expect.poll(() => page.locator(`#server-tasks li.task-succeeded[data-task="${task.id}"]`).count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => page.locator('#netboot-state').textContent()).toBe('not armed: boots from disk');
    expect(site.agent.core.netboot.state(1007)).toBeUndefined();
    expect(bmcOf(1007).boot).toEqual({ device: 'disk', mode: 'legacy', persistent: true });
    const done = await apiGet(`/api/v1/tasks/${task.id}`);
    expect(done.steps.filter((x: { state: string }) => x.state === 'succeeded').map((x: { name: string }) => x.name)).toEqual(DEPLOY_STEPS);
    await shot(page, '05-reinstall-done');
  });

  it('opens the console page in a new tab from the URL the API gives, and it connects', async () => {
    const page = await open();
    await login(page);
    await page.getByRole('link', { name: 'demo-a01-05' }).click();
    const [tab] = await Promise.all([browser.ctx.waitForEvent('page'), page.getByRole('button', { name: 'Open console' }).click()]);
    browser.track(tab);
    // the console page drops the ticket from its address bar once read: check what the page opened
    const opened = await page.evaluate(() => (window as unknown as { rackhand: { lastConsoleUrl: string } }).rackhand.lastConsoleUrl);
    expect(opened, opened).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/console\/\?name=demo-a01-05&ticketUrl=%2Fconsole%2Fsessions%2F[\w-]+%2Fticket#ticket=[\w-]+$/);
    expect(new URL(opened).origin).toBe(site.url);
    await expect.poll(() => tab.url()).toMatch(/\/console\/\?name=demo-a01-05&ticketUrl=/);
    expect(new URL(tab.url()).origin).toBe(site.url);
    // a real session for server 1003, opened by the tech's token, and the tab's viewer connected through the proxy
    const sessions = (await apiGet('/api/v1/servers/1003/console/sessions')).list;
    expect(sessions).toHaveLength(1);
    expect(JSON.stringify(sessions[0])).toContain('tech');
    await expect
      .poll(() => tab.evaluate(() => (window as unknown as { rackhandConsole?: { state: string } }).rackhandConsole?.state ?? 'none'), { timeout: 30_000 })
      .toBe('connected');
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

  it('adopts a discovered MAC into the inventory (tech token; admin logs in too)', async () => {
    const page = await open();
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await login(page, site.tokens.admin);
    expect(await page.locator('#who-name').textContent()).toBe('admin (admin)');
    await page.getByRole('button', { name: 'Log out' }).click();
    await login(page, site.tokens.tech);
    await page.getByRole('link', { name: 'Discovered' }).click();
    await page.getByRole('button', { name: 'Adopt 02:de:00:00:ff:01' }).click();
    await page.getByLabel('Server id').fill('2001');
    await page.getByLabel('Name').fill('new-box');
    await page.getByLabel('Rack').fill('A03');
    await shot(page, '07-adopt');
    await page.getByRole('button', { name: 'Add to inventory' }).click();
    await expect.poll(() => page.locator('#detail h2').textContent()).toContain('new-box');
    expect(await page.locator('#facts').textContent()).toContain('02:de:00:00:ff:01');
    expect((await apiGet('/api/v1/discovered')).list.map((d: { mac: string }) => d.mac)).toEqual(['02:de:00:00:ff:02']);
    expect(await apiGet('/api/v1/servers/2001')).toMatchObject({ name: 'new-box', rack: 'A03', interfaces: [{ mac: '02:de:00:00:ff:01' }] });
  });

  it('keyboard only: log in, find a server, power it on, power it off through the confirmation', async () => {
    const page = await open();
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    const focused = async () => (await focusStop(page))?.what ?? '';
    await tabTo(page, (f) => f.startsWith('input#token'));
    await page.keyboard.type(site.tokens.tech);
    await page.keyboard.press('Enter');
    await expect.poll(focused).toMatch(/^input#search/);
    await page.keyboard.type('demo-a02-07');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#server-table tbody tr[data-id]').count()).toBe(1);
    await tabTo(page, (f) => f.startsWith('a#|demo-a02-07'));
    await page.keyboard.press('Enter');
    await expect.poll(focused).toMatch(/^h2#\|demo-a02-07/);
    await tabTo(page, (f) => f.startsWith('button#power-on'));
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#power-state .badge').textContent(), { timeout: 15_000 }).toBe('on');
    expect(powerOf(1010)).toBe('on');
    await tabTo(page, (f) => f.startsWith('button#power-off'));
    await page.keyboard.press('Enter');
    await expect.poll(focused).toBe('button#confirm-cancel|Cancel');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('button#confirm-ok|Power off');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#power-state .badge').textContent(), { timeout: 15_000 }).toBe('off');
    expect(powerOf(1010)).toBe('off');
    await shot(page, '08-keyboard');
    expect(pageErrors()).toEqual([]);
  });
});
