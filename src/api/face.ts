// The shape of every face: a table of endpoints (route, zod schemas, a handler calling one core capability) and
// the error envelope its clients expect. mountFace turns a table into Express routes; nothing else registers routes.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import { RackhandError, toRackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import type { Core } from '../core/core.js';
import { parseInput } from '../core/validate.js';
import type { AuditEntry } from '../store/repos/audit-repo.js';
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
  /** The response's schema, for the OpenAPI document (a stream: the schema of each event's data). */
  response?: z.ZodType;
  /** The response's media type when it is not application/json (text/event-stream). */
  responseType?: 'text/event-stream';
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
  /**
   * A face whose one route carries many operations (eq's `action`) says which one a request is, which server it
   * names, and whether it only reads (then it is not audited).
   */
  operationOf?(req: Request): { action?: string; serverId?: number; read?: boolean };
}

export interface FaceDeps {
  core: Core;
  authenticate(req: Request): Principal;
  /** The site's body limits: for every endpoint, and for bulk imports. */
  bodyLimit: number;
  importBodyLimit: number;
  log: { error(obj: object, msg: string): void };
  /** Where every mutating request's audit entry goes (who, what, from where, result; never a body value). */
  audit?(entry: AuditEntry): void;
}

/** The one way routes are made: every endpoint validated by its schemas, every error in the face's envelope. */
export function mountFace(app: express.Express, face: Face, d: FaceDeps): void {
  const router: Router = express.Router();
  for (const e of face.endpoints) {
    router[e.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](e.path, async (req: Request, res: Response) => {
      if (e.method !== 'GET' && d.audit) auditOnFinish(face, e, req, res, d.audit);
      const body = e.method === 'GET' ? undefined : await readBody(req, e.bodyLimit === 'import' ? d.importBodyLimit : d.bodyLimit);
      const principal = e.public ? ANONYMOUS : d.authenticate(req);
      res.locals.principal = principal;
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
    res.locals.errorCode = e.code;
    if (e.status >= 500) d.log.error({ err, url: req.originalUrl }, `${face.name} request failed`);
    if (res.headersSent) return void res.end();
    res.status(e.status).json(face.errorBody(e, req));
  });
  app.use(router);
}

/**
 * Records the request once its answer is sent (or the client went away): the caller, the route pattern and the
 * ids it acted on — from the path, the answer's task, or (eq) the face's own reading — the remote address and
 * the result. Body values are never read here beyond those ids: nothing recorded can be a secret.
 */
function auditOnFinish(face: Face, e: Endpoint, req: Request, res: Response, sink: (entry: AuditEntry) => void): void {
  let answer: unknown;
  // This route's path values: an error handler further on sees its own (none).
  const params = { ...req.params };
  const json = res.json.bind(res);
  res.json = (b: unknown) => ((answer = b), json(b));
  let done = false;
  const record = () => {
    if (done) return;
    done = true;
    const op = face.operationOf?.(req) ?? {};
    if (op.read) return;
    const p = res.locals.principal as Principal | undefined;
    const ids = idsOf(e.path, params, (req as { parsedBody?: { value: unknown } }).parsedBody?.value, answer);
    const remote = req.socket.remoteAddress ?? '';
    try {
      sink({
        at: new Date().toISOString(),
        tokenId: p && p !== ANONYMOUS ? p.tokenId : null,
        tokenName: p && p !== ANONYMOUS ? p.name : null,
        role: p && p !== ANONYMOUS ? p.role : null,
        face: face.name,
        method: req.method,
        route: e.path,
        action: op.action ?? null,
        serverId: op.serverId ?? ids.serverId,
        taskId: ids.taskId,
        remote: remote.startsWith('::ffff:') ? remote.slice(7) : remote,
        status: res.writableFinished ? res.statusCode : 499,
        errorCode: (res.locals.errorCode as string | undefined) ?? null,
      });
    } catch {
      // The audit never fails a request that already happened (the log of the failure is the store's own).
    }
  };
  res.once('finish', record);
  res.once('close', record);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const int = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : null);

/**
 * The server and task a request acted on: the path's :id on a server route (/servers/:id…, DCImanager /server/:id…),
 * the id a server write names, and the task in the answer (a task record, {task: record}, or {id, task} replies).
 */
function idsOf(path: string, params: Record<string, unknown>, body: unknown, answer: unknown): { serverId: number | null; taskId: number | null } {
  let serverId = /\/servers?\/:id\b/.test(path) ? int(params.id) : /\/servers?$/.test(path) && isObj(body) ? int(body.id) : null;
  let taskId = /\/tasks\/:id\b/.test(path) ? int(params.id) : null;
  if (isObj(answer)) {
    const task = isObj(answer.task) ? answer.task : 'kind' in answer && 'state' in answer ? answer : undefined;
    if (task) {
      taskId ??= int(task.id);
      serverId ??= int(task.serverId);
    } else if (int(answer.task) !== null) {
      taskId ??= int(answer.task);
      serverId ??= int(answer.id);
    }
  }
  return { serverId, taskId };
}

/** The principal of public endpoints (booting hosts, health checks): may see nothing. */
const ANONYMOUS: Principal = { tokenId: 0, name: 'anonymous', role: 'client', ownerId: null };
