// TasksRepo on the real schema: one unfinished mutating task per server (the lock), state transitions that never
// leave a final state, the step journal, waits and signals, filtered paged lists, pruning.
import { beforeEach, describe, expect, it } from 'vitest';
import { memoryStore, serverInput, type MemoryStore } from './memory-store.js';
import type { TasksRepo } from '../../src/store/repos/tasks-repo.js';

let store: MemoryStore;
let tasks: TasksRepo;
beforeEach(() => {
  store = memoryStore();
  tasks = store.tasks;
  store.servers.upsertMany([serverInput(1), serverInput(2), serverInput(3)]);
});

const submit = (serverId: number | null, o: { kind?: string; mutating?: boolean; params?: Record<string, unknown> } = {}) =>
  tasks.insert({ kind: o.kind ?? 'power', serverId, mutating: o.mutating ?? true, params: o.params ?? {}, requestedBy: 'admin:ops#1' });

describe('insert', () => {
  it('records a queued task with its parameters', () => {
    const id = submit(1, { params: { action: 'on', nested: { a: [1, 2] } } });
    expect(tasks.get(id)).toEqual({
      id,
      kind: 'power',
      serverId: 1,
      mutating: true,
      params: { action: 'on', nested: { a: [1, 2] } },
      state: 'queued',
      result: null,
      error: null,
      requestedBy: 'admin:ops#1',
      createdAt: expect.any(String),
      startedAt: null,
      finishedAt: null,
      waitingFor: null,
      waitDeadline: null,
      steps: [],
    });
    expect(tasks.get(id + 100)).toBeUndefined();
  });

  it('refuses a second unfinished mutating task on a server as SERVER_BUSY, naming the one it waits for', () => {
    const first = submit(1, { kind: 'deploy' });
    expect(() => submit(1)).toThrow(expect.objectContaining({ code: 'SERVER_BUSY', details: { server: 1, task: first } }));
    expect(() => submit(1)).toThrow(`server 1 is busy with task ${first} (deploy)`);
    tasks.markRunning(first);
    expect(() => submit(1)).toThrow(expect.objectContaining({ code: 'SERVER_BUSY' }));
    expect(tasks.list({ serverId: 1 }).total).toBe(1);
  });

  it('lets read-only tasks, other servers and server-less tasks through; frees the server when its task ends', () => {
    const lock = submit(1);
    expect(() => submit(1, { kind: 'sensors', mutating: false })).not.toThrow();
    expect(() => submit(2)).not.toThrow();
    expect(() => [submit(null, { kind: 'image_build' }), submit(null, { kind: 'image_build' })]).not.toThrow();
    tasks.finish(lock, 'failed', { error: { code: 'BMC_TIMEOUT', message: 'no answer' } });
    expect(() => submit(1)).not.toThrow();
  });
});

describe('state transitions', () => {
  it('queued → running → succeeded, with times and the result', () => {
    const id = submit(1);
    tasks.markRunning(id);
    expect(tasks.get(id)).toMatchObject({ state: 'running', startedAt: expect.any(String), finishedAt: null });
    tasks.finish(id, 'succeeded', { result: { power: 'on' } });
    expect(tasks.get(id)).toMatchObject({ state: 'succeeded', result: { power: 'on' }, error: null, finishedAt: expect.any(String) });
  });

  it('a final state is final: neither a second finish nor markRunning changes it', () => {
    const id = submit(1);
    tasks.finish(id, 'cancelled', { error: { code: 'TASK_CANCELLED', message: 'cancelled on request' } });
    const done = tasks.get(id)!;
    tasks.finish(id, 'succeeded', { result: 'late' });
    tasks.markRunning(id);
    expect(tasks.get(id)).toEqual(done);
    expect(done.error).toEqual({ code: 'TASK_CANCELLED', message: 'cancelled on request' });
  });

  it('markRunning starts a queued task only once', () => {
    const id = submit(1);
    tasks.markRunning(id);
    const started = tasks.get(id)!.startedAt;
    tasks.finish(id, 'failed', { error: { code: 'X', message: 'y' } });
    tasks.markRunning(id);
    expect(tasks.get(id)).toMatchObject({ state: 'failed', startedAt: started });
  });

  it('the database refuses a state that is not one of the five', () => {
    const id = submit(1);
    expect(() => tasks.finish(id, 'exploded' as never, {})).toThrow(/CHECK constraint/);
    expect(tasks.get(id)!.state).toBe('queued');
  });
});

describe('the step journal', () => {
  it('numbers steps per task from 1, in order, with what each returned', () => {
    const a = submit(1);
    const b = submit(2);
    expect(tasks.addStep(a, { name: 'arm', state: 'started', message: '' })).toMatchObject({ seq: 1, name: 'arm' });
    tasks.addStep(b, { name: 'other', state: 'note', message: 'b' });
    tasks.addStep(a, { name: 'arm', state: 'succeeded', message: 'armed', result: { token: false, n: 2 } });
    tasks.addStep(a, { name: 'power', state: 'failed', message: 'BMC_TIMEOUT' });
    expect(tasks.get(a)!.steps).toEqual([
      { seq: 1, at: expect.any(String), name: 'arm', state: 'started', message: '' },
      { seq: 2, at: expect.any(String), name: 'arm', state: 'succeeded', message: 'armed', result: { token: false, n: 2 } },
      { seq: 3, at: expect.any(String), name: 'power', state: 'failed', message: 'BMC_TIMEOUT' },
    ]);
    expect(tasks.get(b)!.steps.map((s) => s.seq)).toEqual([1]);
  });
});

describe('waits and signals', () => {
  it('marks what a running task waits for, lists it as unfinished, and clears it when the task ends', () => {
    const id = submit(1, { kind: 'deploy' });
    const other = submit(2);
    tasks.markRunning(id);
    tasks.setWaiting(id, 'installer report', '2030-01-01T00:00:00.000Z');
    expect(tasks.get(id)).toMatchObject({ waitingFor: 'installer report', waitDeadline: '2030-01-01T00:00:00.000Z' });
    tasks.finish(other, 'succeeded', {});
    expect(tasks.unfinished().map((t) => t.id)).toEqual([id]);
    tasks.finish(id, 'succeeded', {});
    expect(tasks.get(id)).toMatchObject({ waitingFor: null, waitDeadline: null });
    expect(tasks.unfinished()).toEqual([]);
  });

  it('keeps a signal for an unfinished task (the latest of a name), refuses one for a finished task', () => {
    const id = submit(1);
    expect(tasks.getSignal(id, 'installer report')).toBeUndefined();
    expect(tasks.putSignal(id, 'installer report', { ok: false })).toBe(true);
    expect(tasks.putSignal(id, 'installer report', { ok: true })).toBe(true);
    expect(tasks.getSignal(id, 'installer report')).toEqual({ payload: { ok: true }, at: expect.any(String) });
    expect(tasks.getSignal(id, 'rescue ready')).toBeUndefined();
    tasks.finish(id, 'succeeded', {});
    expect(tasks.putSignal(id, 'rescue ready', {})).toBe(false);
    expect(tasks.getSignal(id, 'rescue ready')).toBeUndefined();
    expect(tasks.putSignal(999, 'x', {})).toBe(false);
  });
});

describe('list', () => {
  let ids: number[];
  beforeEach(() => {
    ids = [];
    for (let i = 0; i < 12; i++) {
      const id = submit((i % 3) + 1, { kind: i % 2 ? 'sensors' : 'power', mutating: false });
      if (i % 4 === 0) tasks.finish(id, 'succeeded', {});
      ids.push(id);
    }
  });

  it('newest first, paged, with the total of all matches', () => {
    const pages = [0, 5, 10].map((offset) => tasks.list({ limit: 5, offset }));
    expect(pages.map((p) => p.total)).toEqual([12, 12, 12]);
    expect(pages.flatMap((p) => p.tasks.map((t) => t.id))).toEqual([...ids].reverse());
    expect(pages[0].tasks.every((t) => t.steps.length === 0)).toBe(true);
  });

  it('filters by server, a set of servers, state and kind, together', () => {
    const of = (f: Parameters<TasksRepo['list']>[0]) => tasks.list(f).tasks.map((t) => t.id).sort((a, b) => a - b);
    expect(of({ serverId: 2 })).toEqual(ids.filter((_, i) => i % 3 === 1));
    expect(of({ serverIds: [1, 3] })).toEqual(ids.filter((_, i) => i % 3 !== 1));
    expect(tasks.list({ serverIds: [] })).toEqual({ tasks: [], total: 0 });
    expect(of({ state: 'succeeded' })).toEqual(ids.filter((_, i) => i % 4 === 0));
    expect(of({ kind: 'sensors', serverId: 1 })).toEqual(ids.filter((_, i) => i % 2 === 1 && i % 3 === 0));
    expect(tasks.list({ state: 'queued', kind: 'power' }).total).toBe(ids.filter((_, i) => i % 2 === 0 && i % 4 !== 0).length);
  });

  it('counts tasks by kind and state', () => {
    expect(tasks.countsByKindAndState()).toEqual(
      expect.arrayContaining([
        { kind: 'power', state: 'succeeded', count: 3 },
        { kind: 'power', state: 'queued', count: 3 },
        { kind: 'sensors', state: 'queued', count: 6 },
      ]),
    );
  });
});

describe('pruneFinishedBefore', () => {
  it('drops finished tasks (and their steps) older than the cut, never an unfinished one', () => {
    const done = submit(1);
    tasks.addStep(done, { name: 'x', state: 'note', message: '' });
    tasks.finish(done, 'succeeded', {});
    const live = submit(2);
    expect(tasks.pruneFinishedBefore('2000-01-01T00:00:00.000Z')).toBe(0);
    expect(tasks.pruneFinishedBefore('9999-01-01T00:00:00.000Z')).toBe(1);
    expect(tasks.get(done)).toBeUndefined();
    expect(store.dump('task_steps')).toBe('[]');
    expect(tasks.get(live)?.state).toBe('queued');
  });
});
