// The technician's page in headless Chromium at phone and laptop widths, and by keyboard alone: no view overflows
// the page sideways, nothing hidden can take the focus, every focus is visible, the dialog keeps and returns it.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { focusStop, horizontalOverflow, login, pageTestHooks, tabTo, tabWalk, type FocusStop, type PageBrowser } from './page-browser.js';
import type { TestSite } from './test-site.js';

let site: TestSite;
let browser: PageBrowser;
pageTestHooks({
  ready: async (s, b) => {
    site = s;
    browser = b;
    // Something to chart: a few stored samples of every server.
    for (let i = 0; i < 3; i++) await site.agent.parts.sampler.sampleOnce();
  },
});

const bad = (stops: (FocusStop | null)[], pred: (s: FocusStop) => boolean) => stops.filter((s): s is FocusStop => s !== null && !pred(s)).map((s) => s.what);

/** Every view the technician can reach, each ready to be measured. */
const VIEWS: [string, (page: Page) => Promise<void>][] = [
  ['login', async (page) => {
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await page.locator('#login-form').waitFor();
  }],
  ['servers', async (page) => {
    await login(page, site.tokens.tech);
  }],
  ['server detail', async (page) => {
    await login(page, site.tokens.tech);
    await page.getByRole('link', { name: 'demo-a01-03' }).click();
    await page.locator('#history svg').first().waitFor();
    await page.getByRole('button', { name: 'Read sensors now' }).click();
    await page.locator('#sensors table').waitFor();
  }],
  ['confirm dialog', async (page) => {
    await login(page, site.tokens.tech);
    await page.getByRole('link', { name: 'demo-a01-03' }).click();
    await page.locator('#power-off').click();
    await page.locator('#confirm[open]').waitFor();
  }],
  ['tasks', async (page) => {
    await login(page, site.tokens.tech);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Tasks' }).click();
    await page.locator('#all-tasks li, #all-tasks p').first().waitFor();
  }],
  ['discovered + adopt form', async (page) => {
    await login(page, site.tokens.tech);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Discovered' }).click();
    await page.getByRole('button', { name: 'Adopt 02:de:00:00:ff:02' }).click();
    await page.locator('#adopt-form').waitFor();
  }],
];

describe('the page at 390 and 1280 px', () => {
  for (const width of [390, 1280]) {
    it(`no view overflows the page sideways at ${width} px; wide tables scroll in their own box`, async () => {
      const page = await browser.open(site.url + '/', { width, height: 844 });
      const found: Record<string, unknown> = {};
      for (const [name, reach] of VIEWS) {
        await reach(page);
        const o = await horizontalOverflow(page);
        if (o.page > o.viewport || o.offenders.length) found[name] = o;
        await browser.shot(page, `layout-${width}-${name.replace(/\W+/g, '-')}`);
      }
      expect(found).toEqual({});
      expect(browser.errors).toEqual([]);
    });
  }
});

describe('the page by keyboard', () => {
  it('the login screen offers only what it shows: nothing hidden takes the focus, every focus is visible', async () => {
    const page = await browser.open(site.url + '/');
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await page.locator('#login-form').waitFor();
    expect(await page.locator('#nav').isVisible()).toBe(false);
    const stops = await tabWalk(page, 12);
    expect(bad(stops, (s) => s.visible)).toEqual([]);
    expect(bad(stops, (s) => s.indicated)).toEqual([]);
    expect(stops.some((s) => s?.what.startsWith('input#token'))).toBe(true);
    expect(await page.evaluate(() => [...document.querySelectorAll('[tabindex]')].filter((e) => Number(e.getAttribute('tabindex')) > 0).length)).toBe(0);
  });

  it('every view: each Tab stop is visible and shows its focus; views after navigation start at their heading', async () => {
    const page = await browser.open(site.url + '/');
    await login(page, site.tokens.tech);
    expect(bad(await tabWalk(page, 30), (s) => s.visible && s.indicated)).toEqual([]);

    await page.getByRole('link', { name: 'demo-a01-05' }).click();
    await expect.poll(async () => (await focusStop(page))?.what).toMatch(/^h2#\|demo-a01-05/);
    const detail = await tabWalk(page, 70);
    expect(bad(detail, (s) => s.visible && s.indicated)).toEqual([]);
    for (const want of ['button#power-on', 'button#read-sensors', 'select#ri-os', 'input#bu-name', 'button#open-console']) {
      expect(detail.some((s) => s?.what.startsWith(want)), want).toBe(true);
    }

    for (const [section, heading] of [['Tasks', 'Tasks'], ['Discovered', 'Discovered machines']]) {
      await tabTo(page, (f) => f.startsWith(`a#|${section}`));
      await page.keyboard.press('Enter');
      await expect.poll(async () => (await focusStop(page))?.what, { message: section }).toBe(`h2#|${heading}`);
      expect(bad(await tabWalk(page, 20), (s) => s.visible && s.indicated), section).toEqual([]);
    }
  });

  it('the confirmation dialog keeps the focus inside while open and gives it back to the button that opened it', async () => {
    const page = await browser.open(site.url + '/');
    await login(page, site.tokens.tech);
    await page.getByRole('link', { name: 'demo-a01-07' }).click();
    await tabTo(page, (f) => f.startsWith('button#power-off'));
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focusStop(page))?.what).toBe('button#confirm-cancel|Cancel');
    const forward = await tabWalk(page, 7);
    const backward = await tabWalk(page, 7, true);
    expect([...forward, ...backward].filter((s) => !s?.inDialog).map((s) => s?.what ?? '(left the page)')).toEqual([]);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#confirm[open]').count()).toBe(0);
    expect((await focusStop(page))?.what).toMatch(/^button#power-off/);

    await tabTo(page, (f) => f.startsWith('button#power-reboot'));
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focusStop(page))?.what).toBe('button#confirm-cancel|Cancel');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#confirm[open]').count()).toBe(0);
    expect((await focusStop(page))?.what).toMatch(/^button#power-reboot/);
    // Neither was confirmed: no task reached the server.
    const tasks = await fetch(`${site.url}/api/v1/tasks?server=1004`, { headers: { authorization: `Bearer ${site.tokens.admin}` } });
    expect((await tasks.json()).tasks).toEqual([]);
  });

  it('adopts a discovered MAC by keyboard alone and lands on the new server', async () => {
    const page = await browser.open(site.url + '/');
    await login(page, site.tokens.tech);
    await tabTo(page, (f) => f.startsWith('a#|Discovered'));
    await page.keyboard.press('Enter');
    await tabTo(page, (f) => f.startsWith('button#|Adopt 02:de:00:00:ff:01'));
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focusStop(page))?.what).toMatch(/^input#ad-id/);
    await page.keyboard.type('2002');
    await page.keyboard.press('Tab');
    await page.keyboard.type('kb-box');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focusStop(page))?.what).toMatch(/^h2#\|kb-box/);
    expect(browser.errors).toEqual([]);
  });
});
