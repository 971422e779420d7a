// GET /api/v1/events: task and step events as Server-Sent Events, filtered to what the caller's token may see.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Principal } from '../../auth/tokens.js';
import { parseInput } from '../../core/validate.js';
import type { TaskEvent, TaskRunner } from '../../tasks/task-runner.js';
import { intParam } from '../params.js';

export interface TaskEventsDeps {
  tasks: Pick<TaskRunner, 'events'>;
  /** Resolves the caller; EventSource cannot set headers, so `?token=` must be accepted too (log lines redact it). */
  authenticate(req: FastifyRequest): Principal;
  /** May this caller see events of this server (null: tasks not tied to a server)? */
  canSee(p: Principal, serverId: number | null): boolean;
  /** Comment lines at this interval keep proxies and browsers from timing out an idle stream. */
  heartbeatMs?: number;
  /** Streams open at once; more are refused with 503. */
  maxClients?: number;
  /** A client this far behind (bytes buffered) is disconnected rather than buffered without end. */
  maxBufferedBytes?: number;
}

const eventsQuery = z
  .object({
    token: z.string().max(256).optional(),
    server: intParam.optional(),
    task: intParam.optional(),
  })
  .strict();

export function registerTaskEvents(app: FastifyInstance, d: TaskEventsDeps): { clients(): number } {
  const heartbeatMs = d.heartbeatMs ?? 15_000;
  const maxClients = d.maxClients ?? 200;
  const maxBuffered = d.maxBufferedBytes ?? 1 << 20;
  const open = new Set<() => void>();

  app.addHook('onClose', async () => {
    for (const close of [...open]) close();
  });

  app.get('/api/v1/events', async (req, reply) => {
    const principal = d.authenticate(req);
    const q = parseInput(eventsQuery, req.query ?? {}, 'query');
    if (open.size >= maxClients) {
      // No error code fits "come back later" for a stream; 503 with Retry-After says it to any client.
      return reply.code(503).header('retry-after', '10').send({ error: { code: 'UNAVAILABLE', message: `too many event streams open (${maxClients})` } });
    }

    // From here on the socket is ours: fastify must not send a reply of its own.
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    let seq = 0;
    const write = (chunk: string) => {
      if (res.writableEnded || res.destroyed) return;
      res.write(chunk);
      if (res.writableLength > maxBuffered) {
        req.log.warn({ buffered: res.writableLength }, 'event stream client too slow; closing it');
        close();
      }
    };
    write(`retry: 3000\n: rackhand task events for ${principal.role}:${principal.name}\n\n`);

    const onEvent = (e: TaskEvent) => {
      const serverId = e.type === 'task' ? e.task.serverId : e.serverId;
      const taskId = e.type === 'task' ? e.task.id : e.taskId;
      if (q.server !== undefined && serverId !== q.server) return;
      if (q.task !== undefined && taskId !== q.task) return;
      let allowed = false;
      try {
        allowed = d.canSee(principal, serverId);
      } catch {
        allowed = false;
      }
      if (!allowed) return;
      const data = e.type === 'task' ? e.task : { taskId: e.taskId, serverId: e.serverId, step: e.step };
      write(`id: ${++seq}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const heartbeat = setInterval(() => write(`: ping ${Date.now()}\n\n`), heartbeatMs);
    heartbeat.unref();

    let closed = false;
    function close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      d.tasks.events.off('event', onEvent);
      open.delete(close);
      if (!res.writableEnded) res.end();
    }
    open.add(close);
    d.tasks.events.on('event', onEvent);
    req.raw.once('close', close);
    res.once('close', close);
    res.once('error', close);
  });

  return { clients: () => open.size };
}
