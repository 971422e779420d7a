// Declarative routes: one zod schema per input validates the request and documents it in OpenAPI.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Principal } from '../auth/tokens.js';
import { parseInput } from '../core/validate.js';

export interface RouteInput<P, Q, B> {
  principal: Principal;
  params: P;
  query: Q;
  body: B;
  req: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteSpec<P = any, Q = any, B = any> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  bodyLimit?: number;
  /** HTTP status on success (200 unless said). */
  status?: number;
  handler(input: RouteInput<P, Q, B>): unknown | Promise<unknown>;
}

export function route<P = undefined, Q = undefined, B = undefined>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> {
  return spec;
}

export function registerRoutes(
  app: FastifyInstance,
  routes: RouteSpec[],
  authenticate: (req: FastifyRequest) => Principal,
): void {
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      bodyLimit: r.bodyLimit,
      handler: async (req, reply) => {
        const principal = authenticate(req);
        const params = r.params ? parseInput(r.params, req.params, 'params') : undefined;
        const query = r.query ? parseInput(r.query, req.query ?? {}, 'query') : undefined;
        const body = r.body ? parseInput(r.body, req.body, 'body') : undefined;
        const result = await r.handler({ principal, params, query, body, req, reply });
        if (reply.sent) return reply;
        // A handler that chose its own status (201 created vs 200 replaced) keeps it.
        if (reply.statusCode === 200 && r.status) reply.code(r.status);
        return result ?? { ok: true };
      },
    });
  }
}

/** OpenAPI 3.1 from the same schemas that validate requests. */
export function openApiDocument(info: { title: string; version: string }, routes: RouteSpec[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemaOf = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!schema) continue;
      const json = schemaOf(schema);
      for (const [name, prop] of Object.entries(json.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: prop });
      }
    }
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      security: [{ bearer: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(r.body) } } } } : {}),
      responses: {
        [String(r.status ?? 200)]: { description: 'success' },
        default: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
            },
          },
        },
      },
    },
  };
}
