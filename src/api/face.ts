// The shape of every face: a table of endpoints (route, zod schemas, a handler calling one core capability) and
// the error envelope its clients expect. mountFace turns a table into Express routes; nothing else registers routes.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import { RackhandError, toRackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import type { Core } from '../core/core.js';
import { parseInput } from '../core/validate.js';
import { readBody } from './request-body.js';

export interface EndpointInput<P, Q, B> {
  core: Core;
  principal: Principal;
  params: P;
  query: Q;
  body: B;
  req: Request;
  res: Response;
}

export interface Endpoint<P = any, Q = any, B = any> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Express path, e.g. /api/v1/servers/:id. */
  path: string;
  summary: string;
  tag: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** 'import': the site's larger limit for bulk imports instead of its default body limit. */
  bodyLimit?: 'import';
  /** HTTP status on success (200 unless said). */
  status?: number;
  /** The response's schema, for the OpenAPI document. */
  response?: z.ZodType;
  /** Booting hosts and health checks carry no token. */
  public?: boolean;
  /** Returns the JSON body; a handler that wrote the response itself (a stream, a 204) returns undefined. */
  handler(input: EndpointInput<P, Q, B>): unknown | Promise<unknown>;
}

export function endpoint<P = undefined, Q = undefined, B = undefined>(e: Endpoint<P, Q, B>): Endpoint<P, Q, B> {
  return e;
}

export interface Face {
  name: string;
  /** Unknown paths under these prefixes get this face's NOT_FOUND, in its envelope. */
  prefixes: string[];
  endpoints: Endpoint[];
  /** The body of an error response, as this face's clients parse it. */
  errorBody(err: RackhandError, req: Request): unknown;
}

export interface FaceDeps {
  core: Core;
  authenticate(req: Request): Principal;
  /** The site's body limits: for every endpoint, and for bulk imports. */
  bodyLimit: number;
  importBodyLimit: number;
  log: { error(obj: object, msg: string): void };
}

/** The one way routes are made: every endpoint validated by its schemas, every error in the face's envelope. */
export function mountFace(app: express.Express, face: Face, d: FaceDeps): void {
  const router: Router = express.Router();
  for (const e of face.endpoints) {
    router[e.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](e.path, async (req: Request, res: Response) => {
      const body = e.method === 'GET' ? undefined : await readBody(req, e.bodyLimit === 'import' ? d.importBodyLimit : d.bodyLimit);
      const principal = e.public ? ANONYMOUS : d.authenticate(req);
      const params = e.params ? parseInput(e.params, req.params, 'params') : undefined;
      // `token` in the query is a credential (authenticate read it), never an endpoint's parameter.
      const { token: _token, ...queryParams } = (req.query ?? {}) as Record<string, unknown>;
      const query = e.query ? parseInput(e.query, queryParams, 'query') : undefined;
      const parsedBody = e.body ? parseInput(e.body, body ?? {}, 'body') : undefined;
      const result = await e.handler({ core: d.core, principal, params, query, body: parsedBody, req, res });
      if (res.headersSent) return;
      res.status(e.status ?? 200).json(result ?? { ok: true });
    });
  }
  for (const prefix of face.prefixes) {
    router.all(`${prefix}{/*rest}`, (req: Request) => {
      throw new RackhandError('NOT_FOUND', `no route ${req.method} ${req.path}`);
    });
  }
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = toRackhandError(err);
    if (e.status >= 500) d.log.error({ err, url: req.originalUrl }, `${face.name} request failed`);
    if (res.headersSent) return void res.end();
    res.status(e.status).json(face.errorBody(e, req));
  });
  app.use(router);
}

/** The principal of public endpoints (booting hosts, health checks): may see nothing. */
const ANONYMOUS: Principal = { tokenId: 0, name: 'anonymous', role: 'client', ownerId: null };
