// Console faces: eq novnc / recreate_novnc / stop_novnc, /api/v1 console routes, and the page's ticket refresh.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ConsoleSessions } from '../console/console-sessions.js';
import { normalizeAddress } from '../console/ip-allow-list.js';
import type { EqHandlers } from './eq/eq-routes.js';
import { errorBody, httpError } from './errors-to-http.js';
import { idParams } from './params.js';
import { route, type RouteSpec } from './route-table.js';

export function eqConsoleHandlers(c: ConsoleSessions): Partial<EqHandlers> {
  return {
    novnc: (p, x) => ({ id: x.id, ...c.open(p, x.id, x.white_ip) }),
    recreate_novnc: (p, x) => ({ id: x.id, ...c.recreate(p, x.id) }),
    stop_novnc: (p, x) => ({ id: x.id, ...c.stop(p, x.id) }),
  };
}

export function v1ConsoleRoutes(c: ConsoleSessions): RouteSpec[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/servers/:id/console',
      summary: 'Open a console session: a key and the console page URL with a single-use ticket',
      tag: 'console',
      params: idParams,
      body: z.object({ white_ip: z.string().max(512).optional() }).strict().optional(),
      status: 201,
      handler: ({ principal, params, body }) => c.open(principal, params.id, body?.white_ip),
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/servers/:id/console',
      summary: 'End every console session of the server and close its viewers',
      tag: 'console',
      params: idParams,
      handler: ({ principal, params }) => c.stop(principal, params.id),
    }),
    route({
      method: 'GET',
      url: '/api/v1/servers/:id/console/sessions',
      summary: 'Console session audit: who, when, from where, bytes, end reason',
      tag: 'console',
      params: idParams,
      handler: ({ principal, params }) => ({ list: c.history(principal, params.id) }),
    }),
  ];
}

/** The console page's reconnect: the session key in the path is the credential (no API token in the browser). */
export function registerConsoleTicketRoute(app: FastifyInstance, c: ConsoleSessions, basePath: string): void {
  app.post(`${basePath}/sessions/:key/ticket`, async (req, reply) => {
    try {
      const { key } = req.params as { key: string };
      return { ticket: c.refreshTicket(key, normalizeAddress(req.socket.remoteAddress ?? '')) };
    } catch (e) {
      const err = httpError(e);
      return reply.code(err.status).header('cache-control', 'no-store').send(errorBody(err));
    }
  });
}
