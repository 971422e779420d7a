// GET /api/v1/events: task and step events as Server-Sent Events, filtered to what the caller's token may see.
// EventSource cannot set headers, so the token may come as ?token= (the log redacts it).
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Principal } from '../../auth/tokens.js';
import type { Core } from '../../core/core.js';
import type { TaskEvent } from '../../tasks/task-runner.js';
import { endpoint } from '../face.js';
import { intParam } from '../params.js';

/** Comment lines at this interval keep proxies and browsers from timing out an idle stream. */
const HEARTBEAT_MS = 15_000;
/** Streams open at once; more are refused with 503. */
const MAX_CLIENTS = 200;
/** A client this far behind (bytes buffered) is disconnected rather than buffered without end. */
const MAX_BUFFERED = 1 << 20;

/** Open streams per agent (its Core), so a stopping agent closes its own. */
const openByCore = new WeakMap<Core, Set<() => void>>();

function streamsOf(core: Core): Set<() => void> {
  let s = openByCore.get(core);
  if (!s) openByCore.set(core, (s = new Set()));
  return s;
}

/** Close every open stream of this agent (its HTTP server is stopping). */
export function closeTaskEvents(core: Core): void {
  for (const close of [...streamsOf(core)]) close();
}

export const taskEvents = endpoint({
  method: 'GET',
  path: '/api/v1/events',
  summary: 'Task and step events (Server-Sent Events) of the servers this token may see; ?server= and ?task= filter',
  tag: 'tasks',
  query: z.object({ token: z.string().max(512).optional(), server: intParam.optional(), task: intParam.optional() }).strict(),
  handler: ({ core, principal, query, req, res }) => {
    if (streamsOf(core).size >= MAX_CLIENTS) {
      res.status(503).set('retry-after', '10').json({ error: { code: 'UNAVAILABLE', message: `too many event streams open (${MAX_CLIENTS})` } });
      return;
    }
    stream(core, principal, query, req, res);
  },
});

function stream(core: Core, principal: Principal, q: { server?: number; task?: number }, req: Request, res: Response): void {
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
    if (res.writableLength > MAX_BUFFERED) close();
  };
  write(`retry: 3000\n: rackhand task events for ${principal.role}:${principal.name}\n\n`);

  const onEvent = (e: TaskEvent) => {
    const serverId = e.type === 'task' ? e.task.serverId : e.serverId;
    const taskId = e.type === 'task' ? e.task.id : e.taskId;
    if (q.server !== undefined && serverId !== q.server) return;
    if (q.task !== undefined && taskId !== q.task) return;
    if (!core.tasks.canSee(principal, serverId)) return;
    const data = e.type === 'task' ? core.tasks.view(principal, e.task) : { taskId: e.taskId, serverId: e.serverId, step: e.step };
    write(`id: ${++seq}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const heartbeat = setInterval(() => write(`: ping ${Date.now()}\n\n`), HEARTBEAT_MS);
  heartbeat.unref();

  const open = streamsOf(core);
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    core.tasks.events.off('event', onEvent);
    open.delete(close);
    if (!res.writableEnded) res.end();
  }
  open.add(close);
  core.tasks.events.on('event', onEvent);
  req.once('close', close);
  res.once('close', close);
  res.once('error', close);
}
