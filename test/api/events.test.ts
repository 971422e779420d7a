// GET /api/v1/events on the real agent over loopback: auth, filtering by visibility, heartbeats, cleanup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSite, type TestSite } from '../web/test-site.js';

let site: TestSite;
/** Listeners on the task runner's events before any stream was opened (the agent's own). */
let idleListeners = 0;

beforeAll(async () => {
  site = await startTestSite();
  idleListeners = site.agent.tasks.events.listenerCount('event');
  // Server 1001 belongs to the client token's user; the others do not.
  site.agent.core.servers.setOwner({ tokenId: 0, name: 'test', role: 'admin', ownerId: null }, 1001, site.ownerId);
});
afterAll(async () => {
  await site?.close();
});

interface SseEvent {
  type: string;
  id?: string;
  data?: any;
  comment?: string;
}

/** Opens the stream and collects parsed blocks until `until` holds or the timeout ends it. */
function openStream(query: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const events: SseEvent[] = [];
  let status = 0;
  let contentType = '';
  const waiters: (() => void)[] = [];
  const opened = (async () => {
    const res = await fetch(`${site.url}/api/v1/events${query}`, { headers, signal: ac.signal });
    status = res.status;
    contentType = res.headers.get('content-type') ?? '';
    if (!res.ok || !res.body) {
      events.push({ type: 'http-error', data: await res.json() });
      return;
    }
    const dec = new TextDecoder();
    let buf = '';
    (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev: SseEvent = { type: 'message' };
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) ev.comment = (ev.comment ?? '') + line.slice(1).trim();
              else if (line.startsWith('event: ')) ev.type = line.slice(7);
              else if (line.startsWith('id: ')) ev.id = line.slice(4);
              else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
            }
            events.push(ev);
            waiters.splice(0).forEach((w) => w());
          }
        }
      } catch {
        /* aborted */
      }
    })();
  })();
  return {
    events,
    status: () => status,
    contentType: () => contentType,
    opened,
    async waitFor(pred: (evs: SseEvent[]) => boolean, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!pred(events)) {
        if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(events).slice(0, 2000)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
    close: () => ac.abort(),
  };
}

const finished = (id: number) => (evs: SseEvent[]) => evs.some((e) => e.type === 'task' && e.data.id === id && e.data.state === 'succeeded');

describe('GET /api/v1/events', () => {
  it('refuses a missing or unknown token with 401 before streaming', async () => {
    const none = await fetch(`${site.url}/api/v1/events`);
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe('UNAUTHORIZED');
    const bad = await fetch(`${site.url}/api/v1/events?token=rh_nope`);
    expect(bad.status).toBe(401);
    const badQuery = await fetch(`${site.url}/api/v1/events?task=abc`, { headers: { authorization: `Bearer ${site.tokens.tech}` } });
    expect(badQuery.status).toBe(400);
  });

  it('streams a power task: running, its steps in order, then succeeded (token as ?token=)', async () => {
    const s = openStream(`?token=${encodeURIComponent(site.tokens.tech)}`);
    await s.opened;
    expect(s.status()).toBe(200);
    expect(s.contentType()).toMatch(/^text\/event-stream/);
    await s.waitFor((e) => e.some((x) => x.comment?.includes('rackhand task events')));
    const r = await fetch(`${site.url}/api/v1/servers/1002/power`, {
      method: 'POST',
      headers: { authorization: `Bearer ${site.tokens.tech}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'on' }),
    });
    expect(r.status).toBe(202);
    const task = await r.json();
    await s.waitFor(finished(task.id));
    const mine = s.events.filter((e) => (e.type === 'task' && e.data.id === task.id) || (e.type === 'step' && e.data.taskId === task.id));
    expect(mine[0]).toMatchObject({ type: 'task', data: { id: task.id, state: 'running', kind: 'power', serverId: 1002 } });
    const steps = mine.filter((e) => e.type === 'step').map((e) => `${e.data.step.name}:${e.data.step.state}`);
    expect(steps.slice(0, 4)).toEqual(['read power state:started', 'read power state:succeeded', 'power on:started', 'power on:succeeded']);
    expect(steps).toContain('confirm power on:succeeded');
    expect(mine.at(-1)).toMatchObject({ type: 'task', data: { state: 'succeeded', result: { power: 'on', changed: true } } });
    const ids = s.events.filter((e) => e.id).map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    s.close();
  });

  it('a client token sees only events of its own servers; ?server= narrows a tech stream', async () => {
    const client = openStream('', { authorization: `Bearer ${site.tokens.client}` });
    const narrowed = openStream('?server=1004', { authorization: `Bearer ${site.tokens.tech}` });
    await Promise.all([client.opened, narrowed.opened]);
    await client.waitFor((e) => e.length > 0);
    await narrowed.waitFor((e) => e.length > 0);
    const post = async (id: number) =>
      (
        await fetch(`${site.url}/api/v1/servers/${id}/power`, {
          method: 'POST',
          headers: { authorization: `Bearer ${site.tokens.admin}`, 'content-type': 'application/json' },
          body: JSON.stringify({ action: 'on' }),
        })
      ).json();
    const foreign = await post(1003);
    const own = await post(1001);
    const other = await post(1004);
    await client.waitFor(finished(own.id));
    await narrowed.waitFor(finished(other.id));
    // Once the foreign task is over, one more task of each stream's own server: a stream is in order, so any
    // event of the foreign task would have arrived before that task's end.
    await expect.poll(async () => (await (await fetch(`${site.url}/api/v1/tasks/${foreign.id}`, { headers: { authorization: `Bearer ${site.tokens.admin}` } })).json()).finishedAt).not.toBeNull();
    const ownAgain = await post(1001);
    const otherAgain = await post(1004);
    await client.waitFor(finished(ownAgain.id));
    await narrowed.waitFor(finished(otherAgain.id));
    const serversSeen = (evs: SseEvent[]) => new Set(evs.filter((e) => e.data).map((e) => (e.type === 'task' ? e.data.serverId : e.data.serverId)));
    expect([...serversSeen(client.events)]).toEqual([1001]);
    expect([...serversSeen(narrowed.events)]).toEqual([1004]);
    expect(client.events.some((e) => e.data?.id === foreign.id || e.data?.taskId === foreign.id)).toBe(false);
    client.close();
    narrowed.close();
  });

  it('sends heartbeat comments on an idle stream', async () => {
    const s = openStream('', { authorization: `Bearer ${site.tokens.tech}` });
    await s.opened;
    // the agent beats every 15 s: a generous bound that still fails a silent stream
    await s.waitFor((e) => e.some((x) => x.comment?.startsWith('ping')), 30_000);
    s.close();
  }, 45_000);

  it('removes its listener when the client goes away', async () => {
    const until = async (pred: () => boolean) => {
      const deadline = Date.now() + 5_000;
      while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    // Every open stream is one listener on the task runner; `idleListeners` is the count with no stream open.
    const listeners = () => site.agent.tasks.events.listenerCount('event');
    await until(() => listeners() === idleListeners);
    expect(listeners()).toBe(idleListeners);
    const base = idleListeners;
    const streams = Array.from({ length: 5 }, () => openStream('', { authorization: `Bearer ${site.tokens.tech}` }));
    await Promise.all(streams.map((s) => s.opened));
    await Promise.all(streams.map((s) => s.waitFor((e) => e.length > 0)));
    expect(listeners()).toBe(base + 5);
    for (const s of streams) s.close();
    await until(() => listeners() === base);
    expect(listeners()).toBe(base);
  });
});
