// HTTP boot: per-host iPXE scripts, install configs, the installer's report and progress, images (Range) and the
// iPXE binaries. For booting hosts, not API clients: no token; each route is scoped by MAC + address or by a
// per-install token. Errors use the native envelope.
import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { errorBody, RackhandError, toRackhandError } from '../../errors.js';
import { normaliseMac } from '../../domain/server.js';
import type { Logger } from '../../log.js';
import type { BootContent, BootReports } from '../boot-lookup.js';
import { BOOT_PATHS } from '../boot-urls.js';
import { imageResponse } from './image-response.js';

const CONFIG_KINDS = new Set(['preseed', 'kickstart', 'user-data', 'meta-data'] as const);
type ConfigKind = 'preseed' | 'kickstart' | 'user-data' | 'meta-data';

/**
 * What a booted host may say about itself: a report ends the install, progress adds to its journal. Installers
 * whose only HTTP client is busybox wget send the same as a query string on a GET.
 */
const okFlag = z.union([z.boolean(), z.enum(['1', '0', 'true', 'false']).transform((v) => v === '1' || v === 'true')]);
const reportSchema = z.object({
  ok: okFlag,
  code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/).optional(),
  reason: z.string().max(1024).optional(),
  result: z.unknown().optional(),
  agentVersion: z.string().max(16).optional(),
});
const progressSchema = z.object({
  step: z.string().min(1).max(128),
  state: z.enum(['started', 'succeeded', 'failed', 'note', 'heartbeat']).default('note'),
  message: z.string().max(2048).default(''),
  percent: z.coerce.number().min(0).max(100).optional(),
});

/** An inspection's inventory can be large (many disks, raw tool output). */
const BODY_LIMIT = 4 * 1024 * 1024;

export interface BootRoutesDeps {
  content: BootContent;
  reports: BootReports;
  imagesDir: string;
  /** The configured iPXE binaries by name (UEFI HTTP boot fetches them over HTTP). */
  bootFile(name: string): Buffer | undefined;
  /** Says when an image send fails or cannot use sendfile. */
  log?: Logger;
  /** boot.imageCongestionControl: the TCP congestion control image bodies are sent with ('' the system's). */
  imageCongestionControl?: string;
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

  router.get(BOOT_PATHS.grub, (req, res) => {
    const mac = normaliseMac(String(req.params.mac));
    if (!mac) throw new RackhandError('INVALID_INPUT', 'not a MAC address', { field: 'mac' });
    text(res, d.content.hostScript(mac, remoteOf(req), 'grub').script);
  });

  // Range requests too: BMCs read virtual media in pieces as the host reads its CD.
  router.get(BOOT_PATHS.iso, (req, res, next) => {
    const m = /^([A-Za-z0-9_-]{16,128})\.iso$/.exec(String(req.params.file));
    if (!m) throw new RackhandError('NOT_FOUND', 'no such boot ISO');
    const file = d.content.bootIso(m[1], remoteOf(req));
    res.sendFile(file, { headers: { 'cache-control': 'no-store', 'content-type': 'application/x-iso9660-image' }, dotfiles: 'allow' }, (err) => {
      if (err && !res.headersSent) next(new RackhandError('NOT_FOUND', 'no such boot ISO'));
    });
  });

  router.get(BOOT_PATHS.install, (req, res) => {
    const kind = String(req.params.kind);
    if (!CONFIG_KINDS.has(kind as ConfigKind)) throw new RackhandError('NOT_FOUND', `no install config named ${kind.slice(0, 32)}`);
    text(res, d.content.installConfig(String(req.params.token), kind as ConfigKind, remoteOf(req)));
  });

  // The installer's last request: GET (or POST) means success; ?status=failed&reason=… or a JSON report says more.
  const callback = (req: Request, res: Response) => {
    const q = req.query as Record<string, unknown>;
    const fromQuery = q.status === undefined ? { ok: true } : { ok: q.status === 'ok', code: q.code, reason: q.reason };
    const report = parse(reportSchema, req.method === 'POST' && req.body && Object.keys(req.body).length ? req.body : fromQuery);
    const nb = d.reports.report(String(req.params.token), report, remoteOf(req)) as { serverId: number };
    res.json({ ok: true, server: nb.serverId });
  };
  router.get(BOOT_PATHS.callback, callback);
  router.post(BOOT_PATHS.callback, json, callback);

  router.get('/boot/agent/:token/job', (req, res) => {
    res.set('cache-control', 'no-store').json(d.content.agentJob(String(req.params.token)));
  });
  const progress = (req: Request, res: Response) => {
    const p = parse(progressSchema, req.method === 'POST' ? req.body : req.query);
    const message = p.percent === undefined ? p.message : `${p.percent.toFixed(0)}%${p.message ? ` ${p.message}` : ''}`;
    d.reports.progress(String(req.params.token), { name: p.step, state: p.state, message });
    res.status(204).end();
  };
  router.post('/boot/agent/:token/progress', json, progress);
  router.get('/boot/agent/:token/progress', progress);
  const result = (req: Request, res: Response) => {
    const { agentVersion: _v, ...report } = parse(reportSchema, req.method === 'POST' ? req.body : req.query);
    d.reports.report(String(req.params.token), report, remoteOf(req));
    res.status(204).end();
  };
  router.post('/boot/agent/:token/result', json, result);
  router.get('/boot/agent/:token/result', result);

  router.get(BOOT_PATHS.images, async (req, res) => {
    const rel = ([] as string[]).concat(req.params.path as unknown as string[]).join('/');
    await imageResponse(req, res, confined(d.imagesDir, rel), { log: d.log, congestionControl: d.imageCongestionControl });
  });

  router.get(BOOT_PATHS.files, (req, res) => {
    const data = d.bootFile(String(req.params.name));
    if (!data) throw new RackhandError('NOT_FOUND', 'no such boot file');
    res.type(String(req.params.name).endsWith('.efi') ? 'application/efi' : 'application/octet-stream').send(data);
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

/**
 * The path under `root` (symlinks resolved); anything outside it is not found. Synchronous, as nginx resolves
 * paths in its event loop: a few cached lookups on a local directory, where two thread-pool hops cost the
 * image's first byte milliseconds on a loaded machine (bench/deploy.ts).
 */
function confined(root: string, rel: string): string {
  if (!rel || rel.includes('\0') || rel.split('/').some((seg) => seg === '..' || seg === '.' || seg.startsWith('.'))) {
    throw new RackhandError('NOT_FOUND', 'no such image');
  }
  const real = (p: string) => {
    try {
      return fs.realpathSync.native(p);
    } catch {
      return undefined;
    }
  };
  const rootReal = real(root);
  const file = rootReal && real(path.join(rootReal, rel));
  if (!rootReal || !file || !file.startsWith(rootReal + path.sep)) throw new RackhandError('NOT_FOUND', 'no such image');
  return file;
}
