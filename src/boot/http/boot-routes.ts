// HTTP boot: per-host iPXE scripts, install configs, the installer's report and progress, images (Range) and the
// iPXE binaries. For booting hosts, not API clients: no token; each route is scoped by MAC + address or by a
// per-install token. Errors use the native envelope.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { errorBody, RackhandError, toRackhandError } from '../../errors.js';
import { normaliseMac } from '../../domain/server.js';
import type { BootContent, BootReports } from '../boot-lookup.js';
import { BOOT_PATHS } from '../boot-urls.js';

const CONFIG_KINDS = new Set(['preseed', 'kickstart', 'user-data', 'meta-data'] as const);
type ConfigKind = 'preseed' | 'kickstart' | 'user-data' | 'meta-data';

/** What a booted host may say about itself: a report ends the install, progress adds to its journal. */
const reportSchema = z
  .object({ ok: z.boolean(), code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/).optional(), reason: z.string().max(1024).optional() })
  .strict();
const progressSchema = z
  .object({
    step: z.string().min(1).max(128),
    state: z.enum(['started', 'succeeded', 'failed', 'note']).default('note'),
    message: z.string().max(2048).default(''),
    percent: z.number().min(0).max(100).optional(),
  })
  .strict();

const BODY_LIMIT = 64 * 1024;

export interface BootRoutesDeps {
  content: BootContent;
  reports: BootReports;
  imagesDir: string;
  /** The configured iPXE binaries by name (UEFI HTTP boot fetches them over HTTP). */
  bootFile(name: string): Buffer | undefined;
}

function remoteOf(req: Request): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

const text = (res: Response, body: string) => res.type('text/plain; charset=utf-8').set('cache-control', 'no-store').send(body);

export function bootRoutes(d: BootRoutesDeps): { name: string; router: express.Router } {
  const router = express.Router();
  const json = express.json({ limit: BODY_LIMIT, type: () => true });

  router.get(BOOT_PATHS.script, (req, res) => {
    const mac = normaliseMac(String(req.params.mac));
    if (!mac) throw new RackhandError('INVALID_INPUT', 'not a MAC address', { field: 'mac' });
    text(res, d.content.hostScript(mac, remoteOf(req)).script);
  });

  router.get(BOOT_PATHS.install, (req, res) => {
    const kind = String(req.params.kind);
    if (!CONFIG_KINDS.has(kind as ConfigKind)) throw new RackhandError('NOT_FOUND', `no install config named ${kind.slice(0, 32)}`);
    text(res, d.content.installConfig(String(req.params.token), kind as ConfigKind));
  });

  // The installer's last request: GET (or POST) means success; ?status=failed&reason=… or a JSON report says more.
  const callback = (req: Request, res: Response) => {
    const q = req.query as Record<string, unknown>;
    const fromQuery = q.status === undefined ? { ok: true } : { ok: q.status === 'ok', code: q.code, reason: q.reason };
    const report = parse(reportSchema, req.method === 'POST' && req.body && Object.keys(req.body).length ? req.body : fromQuery);
    const nb = d.reports.report(String(req.params.token), report) as { serverId: number };
    res.json({ ok: true, server: nb.serverId });
  };
  router.get(BOOT_PATHS.callback, callback);
  router.post(BOOT_PATHS.callback, json, callback);

  router.post('/boot/agent/:token/progress', json, (req, res) => {
    const p = parse(progressSchema, req.body);
    const message = p.percent === undefined ? p.message : `${p.percent.toFixed(0)}%${p.message ? ` ${p.message}` : ''}`;
    d.reports.progress(String(req.params.token), { name: p.step, state: p.state, message });
    res.status(204).end();
  });
  router.post('/boot/agent/:token/result', json, (req, res) => {
    d.reports.report(String(req.params.token), parse(reportSchema.extend({ result: z.unknown().optional() }), req.body));
    res.status(204).end();
  });

  router.get(BOOT_PATHS.images, async (req, res) => {
    const rel = ([] as string[]).concat(req.params.path as unknown as string[]).join('/');
    res.sendFile(await confined(d.imagesDir, rel), { headers: { 'cache-control': 'no-cache' }, dotfiles: 'deny' });
  });

  router.get(BOOT_PATHS.files, (req, res) => {
    const data = d.bootFile(String(req.params.name));
    if (!data) throw new RackhandError('NOT_FOUND', 'no such boot file');
    res.type('application/efi').send(data);
  });

  router.use('/boot', (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = toRackhandError(err);
    if (res.headersSent) return void res.end();
    res.status(e.status).type('application/json').send(errorBody(e));
  });
  return { name: 'boot', router };
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new RackhandError('INVALID_INPUT', r.error.issues[0].message, { field: r.error.issues[0].path.join('.') });
  return r.data;
}

/** The file under `root` (symlinks resolved); anything outside it is not found. */
async function confined(root: string, rel: string): Promise<string> {
  if (!rel || rel.includes('\0') || rel.split('/').some((seg) => seg === '..' || seg === '.' || seg.startsWith('.'))) {
    throw new RackhandError('NOT_FOUND', 'no such image');
  }
  const rootReal = await fs.realpath(root).catch(() => undefined);
  const file = rootReal && (await fs.realpath(path.join(rootReal, rel)).catch(() => undefined));
  if (!rootReal || !file || !file.startsWith(rootReal + path.sep)) throw new RackhandError('NOT_FOUND', 'no such image');
  const st = await fs.stat(file);
  if (!st.isFile()) throw new RackhandError('NOT_FOUND', 'no such image');
  return file;
}
