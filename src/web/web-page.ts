// Serving the technician's page: index.html at `/`, its script and style under `/ui/`, from src/web/page.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';

export interface WebPageOptions {
  /** Folder holding index.html, app.js, app.css (default: this module's `page/`, else the package's src/web/page). */
  pageDir?: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function findPageDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, 'page');
  if (fs.existsSync(path.join(beside, 'index.html'))) return beside;
  // Built into dist/ (tsc does not copy static files): use the package's src/web/page.
  for (let dir = here; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'src', 'web', 'page');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(candidate, 'index.html'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error('web page files not found (src/web/page)');
  }
}

const PAGE_HEADERS = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/** The page's routes: `/` and its files under `/ui/`, served from memory. */
export function webPageRouter(opts: WebPageOptions = {}): { name: string; router: express.Router } {
  const dir = fs.realpathSync(opts.pageDir ?? findPageDir());
  // The page is a handful of small files: read the list once, serve them from memory.
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type && !name.startsWith('.')) files.set(name, { body: fs.readFileSync(path.join(dir, name)), type });
  }
  const send = (res: express.Response, name: string) => {
    const f = files.get(name);
    if (!f) return void res.status(404).type('text/plain; charset=utf-8').send('not found\n');
    res.set(PAGE_HEADERS).type(f.type).send(f.body);
  };
  const router = express.Router();
  router.get('/', (_req, res) => send(res, 'index.html'));
  router.get('/ui', (_req, res) => res.redirect(301, '/'));
  router.get('/ui/*name', (req, res) => {
    const name = ([] as string[]).concat(req.params.name as unknown as string[]).join('/');
    send(res, name === '' || name === 'index.html' ? 'index.html' : name);
  });
  return { name: 'web', router };
}
