// The native REST API (/api/v1) used by the CLI and the web page; also rendered as OpenAPI.
import { z } from 'zod';
import { RackhandError } from '../../errors.js';
import { can, ROLES } from '../../auth/tokens.js';
import { SERVER_STATUSES } from '../../inventory/server-schema.js';
import { TASK_STATES } from '../../store/repos/tasks-repo.js';
import type { TokensRepo } from '../../store/repos/tokens-repo.js';
import type { InventoryService } from '../../core/inventory-service.js';
import type { TaskRunner } from '../../tasks/task-runner.js';
import { assertAllowed } from '../../core/access.js';
import { idParams, intParam, pageQuery } from '../params.js';
import { route, type RouteSpec } from '../route-table.js';

export interface V1Deps {
  inventory: InventoryService;
  tasks: TaskRunner;
  tokens: TokensRepo;
  importBodyLimit: number;
  /** Extra per-server facts for the detail view (netboot state). */
  serverExtras?(serverId: number): Record<string, unknown>;
}

const serverListQuery = z
  .object({
    q: z.string().max(128).optional(),
    id: intParam.optional(),
    location: z.string().max(128).optional(),
    type: z.string().max(64).optional(),
    group: z.string().max(128).optional(),
    status: z.enum(SERVER_STATUSES).optional(),
    ip: z.string().max(64).optional(),
    ...pageQuery,
  })
  .strict();

const taskListQuery = z
  .object({
    server: intParam.optional(),
    state: z.enum(TASK_STATES).optional(),
    kind: z.string().max(64).optional(),
    ...pageQuery,
  })
  .strict();

const importBody = z.union([z.array(z.unknown()), z.object({ servers: z.array(z.unknown()) }).strict()]);

export function v1Routes(d: V1Deps): RouteSpec[] {
  const visibleTask = (p: Parameters<typeof can.seeAllServers>[0], id: number) => {
    const t = d.tasks.get(id);
    if (!t || (!can.seeAllServers(p) && (t.serverId === null || !isOwned(p, t.serverId)))) {
      throw new RackhandError('NOT_FOUND', `task ${id} not found`, { id });
    }
    return t;
  };
  const isOwned = (p: Parameters<typeof can.seeAllServers>[0], serverId: number) => {
    try {
      d.inventory.show(p, serverId);
      return true;
    } catch {
      return false;
    }
  };

  return [
    route({
      method: 'GET',
      url: '/api/v1/whoami',
      summary: 'The calling token: name, role, owner',
      tag: 'auth',
      handler: ({ principal }) => ({ name: principal.name, role: principal.role, owner_id: principal.ownerId }),
    }),
    route({
      method: 'GET',
      url: '/api/v1/servers',
      summary: 'List servers (search q matches name, rack, MAC, IP)',
      tag: 'servers',
      query: serverListQuery,
      handler: ({ principal, query }) => {
        const { q, ...rest } = query;
        return d.inventory.list(principal, { ...rest, search: q, limit: query.limit ?? 1000 });
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/servers',
      summary: 'Create or replace one server (by id)',
      tag: 'servers',
      body: z.unknown(),
      handler: ({ principal, body, reply }) => {
        const r = d.inventory.upsert(principal, body);
        reply.code(r.created ? 201 : 200);
        return r.server;
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/servers/import',
      summary: 'Idempotent bulk import: upsert servers by id, all or nothing',
      tag: 'servers',
      body: importBody,
      bodyLimit: d.importBodyLimit,
      handler: ({ principal, body }) => d.inventory.import(principal, Array.isArray(body) ? body : body.servers),
    }),
    route({
      method: 'GET',
      url: '/api/v1/servers/:id',
      summary: 'One server, with its netboot state',
      tag: 'servers',
      params: idParams,
      handler: ({ principal, params }) => ({ ...d.inventory.show(principal, params.id), ...d.serverExtras?.(params.id) }),
    }),
    route({
      method: 'PUT',
      url: '/api/v1/servers/:id',
      summary: 'Replace one server; the body id must match the path',
      tag: 'servers',
      params: idParams,
      body: z.record(z.string(), z.unknown()),
      handler: ({ principal, params, body }) => {
        if (body.id !== undefined && body.id !== params.id) {
          throw new RackhandError('INVALID_INPUT', 'id: body id differs from the path', { field: 'id' });
        }
        return d.inventory.upsert(principal, { ...body, id: params.id }).server;
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/servers/:id',
      summary: 'Remove a server from the inventory',
      tag: 'servers',
      params: idParams,
      status: 204,
      handler: ({ principal, params, reply }) => {
        d.inventory.remove(principal, params.id);
        reply.code(204).send();
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/tasks',
      summary: 'List tasks, newest first',
      tag: 'tasks',
      query: taskListQuery,
      handler: ({ principal, query }) => {
        const serverIds = can.seeAllServers(principal) ? undefined : d.inventory.list(principal, {}).servers.map((s) => s.id);
        return d.tasks.list({ serverId: query.server, state: query.state, kind: query.kind, limit: query.limit, offset: query.offset, serverIds });
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/tasks/:id',
      summary: 'One task with its step journal',
      tag: 'tasks',
      params: idParams,
      handler: ({ principal, params }) => visibleTask(principal, params.id),
    }),
    route({
      method: 'POST',
      url: '/api/v1/tasks/:id/cancel',
      summary: 'Cancel a running task',
      tag: 'tasks',
      params: idParams,
      handler: ({ principal, params }) => {
        visibleTask(principal, params.id);
        return d.tasks.cancel(params.id);
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/users',
      summary: 'List users (server owners)',
      tag: 'users',
      handler: ({ principal }) => ({ list: d.inventory.listUsers(principal) }),
    }),
    route({
      method: 'POST',
      url: '/api/v1/users',
      summary: 'Create a user',
      tag: 'users',
      status: 201,
      body: z
        .object({
          email: z.email().max(254),
          full_name: z.string().max(255).optional(),
          phone_number: z.string().max(64).optional(),
          role: z.string().max(32).optional(),
          password: z.string().min(8).max(256).optional(),
        })
        .strict(),
      handler: ({ principal, body }) =>
        d.inventory.createUser(principal, {
          email: body.email,
          fullName: body.full_name,
          phoneNumber: body.phone_number,
          role: body.role,
          password: body.password,
        }),
    }),
    route({
      method: 'GET',
      url: '/api/v1/tokens',
      summary: 'List tokens (never their values)',
      tag: 'auth',
      handler: ({ principal }) => {
        assertAllowed(can.manageTokens(principal), 'manage tokens');
        return { list: d.tokens.list() };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/tokens',
      summary: 'Create a token; its value is returned once',
      tag: 'auth',
      status: 201,
      body: z
        .object({ name: z.string().min(1).max(64), role: z.enum(ROLES), owner_id: z.number().int().positive().optional() })
        .strict()
        .refine((b) => b.role !== 'client' || b.owner_id !== undefined, { message: 'a client token needs owner_id', path: ['owner_id'] }),
      handler: ({ principal, body }) => {
        assertAllowed(can.manageTokens(principal), 'manage tokens');
        const r = d.tokens.create({ name: body.name, role: body.role, ownerId: body.owner_id });
        return { token: r.token, ...r.info };
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/tokens/:id',
      summary: 'Revoke a token',
      tag: 'auth',
      params: idParams,
      status: 204,
      handler: ({ principal, params, reply }) => {
        assertAllowed(can.manageTokens(principal), 'manage tokens');
        if (!d.tokens.revoke(params.id)) throw new RackhandError('NOT_FOUND', `token ${params.id} not found or already revoked`);
        reply.code(204).send();
      },
    }),
  ];
}
