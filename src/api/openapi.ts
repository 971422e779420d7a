// OpenAPI 3.1 from the same zod schemas that validate the faces' requests, and the rows' answer schemas.
import { z } from 'zod';
import type { Endpoint } from './face.js';

/** Schemas that validate only the outer shape (a capability checks the rest), and the shape they document. */
const documented = new WeakMap<z.ZodType, z.ZodType>();

/** `schema` validates; the OpenAPI document shows `doc` in its place. */
export function documentedAs<T extends z.ZodType>(schema: T, doc: z.ZodType): T {
  documented.set(schema, doc);
  return schema;
}

export function openApiDocument(info: { title: string; version: string }, endpoints: Endpoint[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  // Requests are documented as clients write them (defaults optional), answers as rackhand sends them.
  const schemaOf = (s: z.ZodType, io: 'input' | 'output' = 'input') => {
    const json = z.toJSONSchema(documented.get(s) ?? s, { io, unrepresentable: 'any' }) as Record<string, any>;
    delete json.$schema;
    return json;
  };
  for (const e of endpoints) {
    const path = e.path.replace(/:(\w+)/g, '{$1}').replace(/\*(\w+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', e.params],
      ['query', e.query],
    ] as const) {
      if (!schema) continue;
      const json = schemaOf(schema);
      for (const [name, prop] of Object.entries(json.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: prop });
      }
    }
    paths[path] ??= {};
    paths[path][e.method.toLowerCase()] = {
      summary: e.summary,
      tags: [e.tag],
      ...(e.public ? {} : { security: [{ bearer: [] }] }),
      ...(parameters.length ? { parameters } : {}),
      ...(e.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(e.body) } } } } : {}),
      responses: {
        [String(e.status ?? 200)]: {
          description: e.status === 204 ? 'done; no content' : e.responseType === 'text/event-stream' ? 'a stream of events, each data line one of these' : 'success',
          ...(e.response ? { content: { [e.responseType ?? 'application/json']: { schema: schemaOf(e.response, 'output') } } } : {}),
        },
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
