// Headless Debian Chromium for the page tests: the hooks of a page test file (the real agent and one persistent
// browser context), pages that collect script errors, log in, and walk the page with Tab as a keyboard user does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startTestSite, type TestSite, type TestSiteOptions } from './test-site.js';

export const ARTIFACTS = path.resolve('test-artifacts/web');

export interface PageBrowser {
  ctx: BrowserContext;
  /** Script errors and console errors of every page opened (failed resource loads aside). */
  errors: string[];
  open(url: string, viewport?: { width: number; height: number }): Promise<Page>;
  /** A page the browser opened by itself (a new tab): closed with the others. */
  track(page: Page): Page;
  shot(page: Page, name: string): Promise<unknown>;
  closePages(): Promise<void>;
  close(): Promise<void>;
}

export async function launchPageBrowser(): Promise<PageBrowser> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const udd = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-web-chrome-${process.pid}-`));
  const ctx = await chromium.launchPersistentContext(udd, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1366, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // An action that cannot happen fails with its selector instead of hanging until the test timeout.
  ctx.setDefaultTimeout(15_000);
  const errors: string[] = [];
  const pages: Page[] = [];
  return {
    ctx,
    errors,
    async open(url, viewport) {
      const page = await ctx.newPage();
      pages.push(page);
      if (viewport) await page.setViewportSize(viewport);
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text());
      });
      await page.goto(url);
      return page;
    },
    track(page) {
      pages.push(page);
      return page;
    },
    shot: (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true }),
    async closePages() {
      for (const p of pages.splice(0)) await p.close().catch(() => {});
    },
    async close() {
      await ctx.close().catch(() => {});
      fs.rmSync(udd, { recursive: true, force: true });
    },
  };
}

/** Logs in afresh on the server list (a deep link such as #/tasks would land elsewhere). */
/**
 * Registers a page test file's hooks: before all, the real agent (startTestSite) and Chromium, handed to `ready`;
 * after each test its pages are closed; after all, both are stopped, then `teardown` runs.
 */
export function pageTestHooks(hooks: {
  options?: () => Promise<TestSiteOptions>;
  ready(site: TestSite, browser: PageBrowser): void | Promise<void>;
  teardown?: () => Promise<void>;
}): void {
  let site: TestSite | undefined;
  let browser: PageBrowser | undefined;
  beforeAll(async () => {
    site = await startTestSite((await hooks.options?.()) ?? {});
    browser = await launchPageBrowser();
    await hooks.ready(site, browser);
  }, 120_000);
  afterEach(async () => {
    await browser?.closePages();
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await hooks.teardown?.();
  });
}

export async function login(page: Page, token: string): Promise<void> {
  await page.evaluate(() => {
    sessionStorage.clear();
    location.hash = '';
  });
  await page.reload();
  await page.getByLabel('API token (tech or admin)').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#server-table tbody tr[data-id]').first().waitFor();
}

/** What a keyboard user sees of the focused element. */
export interface FocusStop {
  /** tag#id|text, for messages. */
  what: string;
  /** Rendered, not inside a [hidden] subtree, not clipped to nothing. */
  visible: boolean;
  /** An outline or a box shadow is drawn around it. */
  indicated: boolean;
  /** Inside the open modal dialog, if one is open. */
  inDialog: boolean;
}

export function focusStop(page: Page): Promise<FocusStop | null> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return null;
    const cs = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const visible =
      el.closest('[hidden]') === null &&
      el.checkVisibility({ opacityProperty: true, visibilityProperty: true }) &&
      box.width > 1 &&
      box.height > 1 &&
      box.right > 0 &&
      box.bottom > 0 &&
      box.left < window.innerWidth;
    const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
    const shadow = cs.boxShadow !== 'none' && cs.boxShadow !== '';
    const dialog = document.querySelector('dialog[open]');
    return {
      what: `${el.tagName.toLowerCase()}#${el.id}|${(el.textContent ?? '').trim().slice(0, 40) || (el as HTMLInputElement).name || el.getAttribute('aria-label') || ''}`,
      visible,
      indicated: outline || shadow,
      inDialog: dialog !== null && dialog.contains(el),
    };
  });
}

/**
 * Presses Tab (or Shift+Tab) `count` times and returns every element focus landed on. Focus leaving the document
 * (into the browser's own UI) shows as null.
 */
export async function tabWalk(page: Page, count: number, shift = false): Promise<(FocusStop | null)[]> {
  const stops: (FocusStop | null)[] = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
    stops.push(await focusStop(page));
  }
  return stops;
}

/** Tabs until `pred` matches the focused element; throws with the last one when it never does. */
export async function tabTo(page: Page, pred: (what: string) => boolean, max = 120): Promise<void> {
  for (let i = 0; i < max; i++) {
    const f = await focusStop(page);
    if (f && pred(f.what)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`never focused; last ${(await focusStop(page))?.what}`);
}

/** Widths that overflow the viewport: the page's own and every element's right edge past it. */
export function horizontalOverflow(page: Page): Promise<{ viewport: number; page: number; offenders: string[] }> {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const offenders: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      const h = el as HTMLElement;
      if (!h.checkVisibility()) continue;
      // Inside a scroll container the element may be wider: the container scrolls, not the page.
      let p = h.parentElement;
      let scrolled = false;
      while (p && p !== document.body) {
        const ox = getComputedStyle(p).overflowX;
        if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') scrolled = true;
        p = p.parentElement;
      }
      if (scrolled || getComputedStyle(h).position === 'fixed') continue;
      const r = h.getBoundingClientRect();
      if (r.right > vw + 0.5) offenders.push(`${h.tagName.toLowerCase()}${h.id ? '#' + h.id : ''}${h.className && typeof h.className === 'string' ? '.' + h.className.split(' ')[0] : ''} right=${Math.round(r.right)}`);
    }
    return { viewport: vw, page: document.documentElement.scrollWidth, offenders: offenders.slice(0, 8) };
  });
}
