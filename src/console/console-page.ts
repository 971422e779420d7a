// Serving the console page and noVNC's own ES modules (from node_modules/@novnc/novnc) under one base path.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express from 'express';

export interface ConsolePageOptions {
  /** URL prefix of the page; the websocket proxy's default path (/console/ws) sits under it. */
  basePath?: string;
  /** Folder holding index.html, console.js, console.css (default: this module's `page/`, else src/console/page). */
  pageDir?: string;
  /** Root of the @novnc/novnc package (default: resolved from node_modules). */
  novncDir?: string;
  /** CSP frame-ancestors value; 'none' forbids embedding (set the control panel's origin to allow an iframe). */
  frameAncestors?: string;
}

interface Asset {
  file: string;
  type: string;
  headers: Record<string, string>;
}

type Lookup = { kind: 'asset'; asset: Asset } | { kind: 'redirect'; location: string } | { kind: 'none' };

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function findPageDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, 'page');
  if (fs.existsSync(path.join(beside, 'index.html'))) return beside;
  // Built into dist/ (tsc does not copy static files): use the package's src/console/page.
  for (let dir = here; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'src', 'console', 'page');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(candidate, 'index.html'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error('console page files not found (src/console/page)');
  }
}

function findNovncDir(): string {
  // The package's exports map only exposes core/rfb.js; from it we find the package root.
  const entry = createRequire(import.meta.url).resolve('@novnc/novnc');
  return path.dirname(path.dirname(entry));
}

/** Resolves URL path segments under `root`, refusing anything that could leave it. */
function safeJoin(root: string, segments: string[]): string | null {
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || s.startsWith('.') || /[\\/\0]/.test(s) || s.length > 128) return null;
  }
  const full = path.join(root, ...segments);
  if (!full.startsWith(root + path.sep)) return null;
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch {
    return null;
  }
  if (!real.startsWith(root + path.sep)) return null;
  try {
    if (!fs.statSync(real).isFile()) return null;
  } catch {
    return null;
  }
  return real;
}

/** Maps request paths to files, for the plain node handler. */
export class ConsolePageFiles {
  readonly basePath: string;
  private readonly pageDir: string;
  private readonly novncDir: string;
  private readonly pageHeaders: Record<string, string>;

  constructor(opts: ConsolePageOptions = {}) {
    const base = opts.basePath ?? '/console/';
    this.basePath = base.endsWith('/') ? base : `${base}/`;
    this.pageDir = fs.realpathSync(opts.pageDir ?? findPageDir());
    this.novncDir = fs.realpathSync(opts.novncDir ?? findNovncDir());
    const frame = opts.frameAncestors ?? "'none'";
    this.pageHeaders = {
      'cache-control': 'no-store',
      'content-security-policy':
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
        `connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors ${frame}`,
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
    };
    if (frame === "'none'") this.pageHeaders['x-frame-options'] = 'DENY';
  }

  lookup(rawUrl: string): Lookup {
    const q = rawUrl.indexOf('?');
    const pathname = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const search = q >= 0 ? rawUrl.slice(q) : '';
    if (pathname === this.basePath.slice(0, -1)) return { kind: 'redirect', location: this.basePath + search };
    if (!pathname.startsWith(this.basePath)) return { kind: 'none' };
    let segments: string[];
    try {
      segments = pathname.slice(this.basePath.length).split('/').map((s) => decodeURIComponent(s));
    } catch {
      return { kind: 'none' };
    }
    if (segments.length === 1 && segments[0] === '') segments = ['index.html'];
    let file: string | null = null;
    let headers = this.pageHeaders;
    if (segments[0] === 'novnc') {
      // Only noVNC's library code, never its package metadata or docs.
      if (segments[1] !== 'core' && segments[1] !== 'vendor') return { kind: 'none' };
      file = safeJoin(this.novncDir, segments.slice(1));
      headers = { 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' };
    } else if (segments.length === 1) {
      file = safeJoin(this.pageDir, segments);
      if (segments[0] !== 'index.html') headers = { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
    }
    if (file === null) return { kind: 'none' };
    const type = TYPES[path.extname(file)];
    if (type === undefined) return { kind: 'none' };
    return { kind: 'asset', asset: { file, type, headers } };
  }
}

/**
 * A plain node handler: returns false when the URL is not the console page's (the caller goes on routing).
 * GET and HEAD only.
 */
export function createConsolePageHandler(opts: ConsolePageOptions = {}): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const files = new ConsolePageFiles(opts);
  return (req, res) => {
    const found = files.lookup(req.url ?? '/');
    if (found.kind === 'none') {
      if (!(req.url ?? '').startsWith(files.basePath)) return false;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return true;
    }
    if (found.kind === 'redirect') {
      res.writeHead(301, { location: found.location }).end();
      return true;
    }
    const { file, type, headers } = found.asset;
    fs.stat(file, (err, st) => {
      if (err) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      res.writeHead(200, { ...headers, 'content-type': type, 'content-length': String(st.size) });
      if (req.method === 'HEAD') return void res.end();
      const stream = fs.createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    });
    return true;
  };
}

/** The page and noVNC's files as Express routes (GET/HEAD under basePath), by the same plain handler. */
export function consolePageRouter(opts: ConsolePageOptions = {}): express.Router {
  const handle = createConsolePageHandler(opts);
  const router = express.Router();
  router.use((req, res, next) => {
    if (!handle(req, res)) next();
  });
  return router;
}
