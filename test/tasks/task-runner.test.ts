// The runner with an in-memory store and in-process workflows (unit level; the crash test runs a real process).
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { openDatabase } from '../../src/store/sqlite-store.js';
import { TasksRepo } from '../../src/store/repos/tasks-repo.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { TaskRunner, type Workflow } from '../../src/tasks/task-runner.js';
import { RackhandError } from '../../src/errors.js';

const silent = pino({ level: 'silent' });

function setup() {
  const db = openDatabase(':memory:');
  new ServersRepo(db, SecretBox.fromKey(Buffer.alloc(32, 1))).upsertMany(
    [1, 2].map((id) => ({ id, name: `s${id}`, status: 'free', type: 'Server', location: '', datacenter: '', rack: '', configuration: '', preset: '', tags: [], groups: [], hardware: [], interfaces: [] })),
  );
  const repo = new TasksRepo(db);
  return { db, repo, runner: new TaskRunner(repo, silent) };
}

/** A workflow that waits until the test releases it. */
function gated(kind: string, mutating = true) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const wf: Workflow<{ n?: number }, { password: string }> = {
    kind,
    mutating,
    async run(ctx) {
      await ctx.step('first', () => 1);
      await ctx.step('wait', () => Promise.race([gate, new Promise((_, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)))]));
      ctx.note('done', `secret length ${ctx.secrets.password.length}`);
      return { ok: true };
    },
  };
  return { wf, release: () => release() };
}

describe('TaskRunner', () => {
  it('runs a workflow, journals its steps, and never stores its secrets', async () => {
    const { runner, db } = setup();
    const g = gated('power');
    runner.register(g.wf);
    const t = runner.submit('power', { serverId: 1, params: { n: 1 }, secrets: { password: 'Tr0ub4dor&3' }, requestedBy: 'test' });
    expect(t.state).toBe('queued');
    g.release();
    const done = await runner.wait(t.id);
    expect(done).toMatchObject({ state: 'succeeded', result: { ok: true }, params: { n: 1 }, error: null });
    expect(done.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['first:started', 'first:succeeded', 'wait:started', 'wait:succeeded', 'done:note']);
    expect(JSON.stringify(db.prepare('SELECT * FROM tasks').all())).not.toContain('Tr0ub4dor');
  });

  it('refuses a second mutating task on a busy server with SERVER_BUSY, allows other servers and read-only tasks', async () => {
    const { runner } = setup();
    const g = gated('power');
    const r = gated('sensors', false);
    runner.register(g.wf);
    runner.register(r.wf);
    const first = runner.submit('power', { serverId: 1, params: {}, secrets: { password: 'x' }, requestedBy: 't' });
    let err: unknown;
    try {
      runner.submit('power', { serverId: 1, params: {}, secrets: { password: 'x' }, requestedBy: 't' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RackhandError);
    expect((err as RackhandError).code).toBe('SERVER_BUSY');
    expect((err as RackhandError).details).toMatchObject({ task: first.id });
    const other = runner.submit('power', { serverId: 2, params: {}, secrets: { password: 'x' }, requestedBy: 't' });
    const read = runner.submit('sensors', { serverId: 1, params: {}, secrets: { password: 'x' }, requestedBy: 't' });
    g.release();
    r.release();
    expect((await runner.wait(first.id)).state).toBe('succeeded');
    expect((await runner.wait(other.id)).state).toBe('succeeded');
    expect((await runner.wait(read.id)).state).toBe('succeeded');
    // The lock is released: the server takes a new task.
    const again = runner.submit('power', { serverId: 1, params: {}, secrets: { password: 'x' }, requestedBy: 't' });
    await runner.stop();
    expect((await runner.wait(again.id)).error?.code).toBe('TASK_INTERRUPTED');
  });

  it('a failing step fails the task with its code; cancel ends it as cancelled', async () => {
    const { runner } = setup();
    runner.register({
      kind: 'boom',
      mutating: true,
      run: async (ctx) => ctx.step('talk to bmc', () => Promise.reject(new RackhandError('BMC_TIMEOUT', 'no answer in 5 s'))),
    });
    const g = gated('long');
    runner.register(g.wf);
    const t = await runner.wait(runner.submit('boom', { serverId: 1, params: {}, requestedBy: 't' }).id);
    expect(t).toMatchObject({ state: 'failed', error: { code: 'BMC_TIMEOUT', message: 'no answer in 5 s' } });
    expect(t.steps.at(-1)).toMatchObject({ name: 'talk to bmc', state: 'failed', message: 'BMC_TIMEOUT: no answer in 5 s' });
    const long = runner.submit('long', { serverId: 1, params: {}, secrets: { password: 'x' }, requestedBy: 't' });
    await new Promise((r) => setTimeout(r, 20));
    runner.cancel(long.id);
    expect(await runner.wait(long.id)).toMatchObject({ state: 'cancelled', error: { code: 'TASK_CANCELLED' } });
    expect(() => runner.cancel(long.id)).toThrow(/only a running task/);
  });

  it('recover() settles tasks a crash left unfinished, runs their cleanup, and frees the server', async () => {
    const { db, repo } = setup();
    const id = repo.insert({ kind: 'install', serverId: 1, mutating: true, params: {}, requestedBy: 't' });
    repo.markRunning(id);
    repo.addStep(id, { name: 'arm netboot', state: 'succeeded', message: '' });
    const cleaned: number[] = [];
    const runner = new TaskRunner(new TasksRepo(db), silent);
    runner.register({ kind: 'install', mutating: true, run: async () => null, settleInterrupted: (t) => void cleaned.push(t.id) });
    expect(await runner.recover()).toBe(1);
    expect(cleaned).toEqual([id]);
    const t = runner.get(id)!;
    expect(t).toMatchObject({ state: 'failed', error: { code: 'TASK_INTERRUPTED' } });
    expect(t.steps.map((s) => s.name)).toEqual(['arm netboot', 'recovery']);
    expect(() => runner.submit('install', { serverId: 1, params: {}, requestedBy: 't' })).not.toThrow();
  });
});
