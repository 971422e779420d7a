// The HTTP server: one fastify instance carrying every facade (eq, DCImanager, /api/v1), health, and errors.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { Logger } from '../log.js';
import type { Principal } from '../auth/tokens.js';
import { errorBody, httpError } from './errors-to-http.js';
import { registerRoutes, openApiDocument, type RouteSpec } from './route-table.js';
import { registerEqRoutes, type EqHandlers } from './eq/eq-routes.js';
import type { InventoryService } from '../core/inventory-service.js';

export interface HttpServerDeps {
  log: Logger;
  bodyLimit: number;
  authenticate(req: FastifyRequest): Principal;
  routes: RouteSpec[];
  eq: { inventory: InventoryService; operations: Partial<EqHandlers> };
  ready(): boolean;
  version: string;
}

export async function createHttpServer(d: HttpServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: d.log as FastifyBaseLogger,
    bodyLimit: d.bodyLimit,
    // Request ids are ours (req-N), not taken from a caller's header that could forge log correlation.
    requestIdHeader: false,
    return503OnClosing: true,
    forceCloseConnections: true,
  });
  await app.register(formbody, { bodyLimit: d.bodyLimit });

  app.setErrorHandler((e, req, reply) => {
    const err = httpError(e);
    if (err.status >= 500) req.log.error({ err: e }, 'request failed');
    const body = errorBody(err);
    if (req.url.startsWith('/api/eq')) {
      const action = typeof (req.body as { action?: unknown })?.action === 'string' ? (req.body as { action: string }).action : '';
      return reply.code(err.status).send({ result: 'ERROR', module: 'eq', action, ...body });
    }
    return reply.code(err.status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  app.get('/healthz', async () => ({ status: 'ok', version: d.version }));
  app.get('/readyz', async (_req, reply) => {
    const ok = d.ready();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'starting' });
  });

  registerEqRoutes(app, { inventory: d.eq.inventory, authenticate: d.authenticate, operations: d.eq.operations });
  registerRoutes(app, d.routes, d.authenticate);
  const documented = d.routes.filter((r) => /^\/api\/(v1|dci|ip)\//.test(r.url));
  const doc = openApiDocument({ title: 'rackhand', version: d.version }, documented);
  app.get('/api/v1/openapi.json', async () => doc);
  return app;
}
