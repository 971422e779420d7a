// OpenAPI 3.1 from the same zod schemas that validate the faces' requests.
import { z } from 'zod';
import type { Endpoint } from './face.js';

export function openApiDocument(info: { title: string; version: string }, endpoints: Endpoint[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemaOf = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
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
          description: 'success',
          ...(e.response ? { content: { 'application/json': { schema: schemaOf(e.response) } } } : {}),
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
