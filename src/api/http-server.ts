// The HTTP server: one Express app carrying every face, health endpoints, request logging, and a last-resort
// NOT_FOUND / error answer in the native envelope for paths no face owns.
import http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { errorBody, RackhandError, toRackhandError } from '../errors.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';
import { mountFace, type Face, type FaceDeps } from './face.js';
import { openApiDocument } from './openapi.js';

/** A plane's own routes (boot, console page, web page, metrics): mounted as they are, by the same loop. */
export interface RouterFace {
  name: string;
  router: express.Router;
}

export interface HttpServerOptions extends FaceDeps {
  log: Logger;
  version: string;
  ready(): boolean;
  faces: (Face | RouterFace)[];
  /** Run before any route (the metrics' request timer). */
  middleware?: express.RequestHandler[];
}

export function createHttpServer(o: HttpServerOptions): { app: express.Express; server: http.Server } {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // qs: PHP-style arrays (params[0][name]=…) in query strings, as in form bodies.
  app.set('query parser', 'extended');
  app.use((req: Request, res: Response, next: NextFunction) => {
    const t0 = process.hrtime.bigint();
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      o.log.debug({ method: req.method, url: redactUrl(req.originalUrl), status: res.statusCode, ms: Math.round(ms * 10) / 10, remote: req.socket.remoteAddress }, 'http');
    });
    next();
  });

  for (const m of o.middleware ?? []) app.use(m);

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok', version: o.version }));
  app.get('/readyz', (_req, res) => void res.status(o.ready() ? 200 : 503).json({ status: o.ready() ? 'ready' : 'starting' }));

  const documented = o.faces.filter((f): f is Face => 'endpoints' in f && f.name !== 'eq');
  const doc = openApiDocument({ title: 'rackhand', version: o.version }, documented.flatMap((f) => f.endpoints));
  app.get('/api/v1/openapi.json', (_req, res) => void res.json(doc));

  // The one loop: every face, table-driven or a plane's router.
  for (const face of o.faces) {
    if ('router' in face) app.use(face.router);
    else mountFace(app, face, o);
  }

  app.use((req: Request) => {
    throw new RackhandError('NOT_FOUND', `no route ${req.method} ${req.path}`);
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = toRackhandError(err);
    if (e.status >= 500) o.log.error({ err, url: redactUrl(req.originalUrl) }, 'request failed');
    if (res.headersSent) return void res.end();
    res.status(e.status).json(errorBody(e));
  });
  return { app, server: http.createServer(app) };
}
