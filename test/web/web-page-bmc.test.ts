// The page's BMC parts in headless Chromium against the real agent: a server's BMC event log read (critical entries
// marked, newest first) and cleared after a confirmation by a tech; a BMC made a Redfish one in the inventory form
// (the port it gets when left empty shown, scheme, old TLS, how deploys boot).
import { expect, it } from 'vitest';
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

const nameOf = async (id: number) =>
  (await (await fetch(`${site.url}/api/v1/servers/${id}`, { headers: { authorization: `Bearer ${site.tokens.admin}` } })).json()).name as string;

it('a tech reads the BMC event log (newest first, critical marked) and clears it after confirming', async () => {
  const id = 1003;
  await fetch(`${site.url}/api/v1/servers/${id}/sensors`, { headers: { authorization: `Bearer ${site.tokens.admin}` } }); // the BMC knows rackhand's login
  const bmc = { host: site.bmcKey(id).split(':')[0]!, port: 623 };
  site.driver.addEvent(bmc, { severity: 'ok', message: 'PS1 presence detected (asserted)' });
  site.driver.addEvent(bmc, { severity: 'critical', message: 'temperature sensor 1: upper critical going high (asserted)' });
  const page = await browser.open(site.url + '/');
  await login(page, site.tokens.tech);
  await page.getByRole('link', { name: await nameOf(id) }).click();
  await page.getByRole('button', { name: 'Read event log' }).click();
  await page.locator('#event-log table').waitFor();
  expect(await page.locator('#event-log-summary').textContent()).toMatch(/: 2 entries, 1 critical, newest first$/);
  const rows = page.locator('#event-log tbody tr');
  expect(await rows.count()).toBe(2);
  expect(await rows.nth(0).getAttribute('class')).toBe('sensor-critical');
  expect(await rows.nth(0).locator('td').nth(2).textContent()).toBe('temperature sensor 1: upper critical going high (asserted)');
  expect(await rows.nth(1).locator('td').nth(1).textContent()).toBe('ok');

  await page.getByRole('button', { name: 'Clear event log…' }).click();
  await page.locator('#confirm[open]').waitFor();
  expect(await page.locator('#confirm-text').textContent()).toMatch(/^Erase the event log of .*'s BMC\?/);
  await page.locator('#confirm-ok').click();
  await expect.poll(() => site.bmcOf(id).events.length, { timeout: 15_000 }).toBe(0);
  await page.getByRole('button', { name: 'Read event log' }).click();
  await expect.poll(() => page.locator('#event-log').textContent()).toMatch(/The event log is empty\./);
  expect(browser.errors).toEqual([]);
});

it('an admin makes a BMC a Redfish one: the empty port shows 443 (80 over http), and redfish, 443, old TLS and virtual-media deploys are stored', async () => {
  const id = 1008;
  const page = await browser.open(site.url + '/');
  await login(page, site.tokens.admin);
  await page.getByRole('link', { name: await nameOf(id) }).click();
  await page.locator('#inventory-form').waitFor();
  await page.locator('#inv-bmc-driver').selectOption('redfish');
  await page.locator('#inv-bmc-port').fill('');
  expect(await page.locator('#inv-bmc-port').getAttribute('placeholder')).toBe('443');
  await page.locator('#inv-bmc-scheme').selectOption('http');
  expect(await page.locator('#inv-bmc-port').getAttribute('placeholder')).toBe('80');
  await page.locator('#inv-bmc-scheme').selectOption('https');
  await page.locator('#inv-bmc-legacy-tls').check();
  await page.locator('#inv-boot-via').selectOption('virtual_media');
  await page.locator('#inv-save').click();
  await expect.poll(() => page.locator('#status.ok').textContent()).toMatch(/^Inventory of .* saved: boot_via, bmc\.driver, bmc\.legacy_tls$/);
  const stored = site.agent.repos.servers.get(id)!;
  expect(stored.bootVia).toBe('virtual_media');
  expect(stored.bmc).toMatchObject({ driver: 'redfish', port: 443, scheme: 'https', legacyTls: true });
  expect(site.agent.repos.servers.bmcTarget(id)).toMatchObject({ driver: 'redfish', port: 443, scheme: 'https', legacyTls: true });
  // Shown again, the reinstall form offers the server's way first; the boot device list has UEFI HTTP boot for it.
  await page.reload();
  await page.locator('#ri-boot-via').waitFor();
  expect(await page.locator('#ri-boot-via').inputValue()).toBe('virtual_media');
  expect(await page.locator('#boot-device option[value="http"]').count()).toBe(1);
  expect(browser.errors).toEqual([]);
});
