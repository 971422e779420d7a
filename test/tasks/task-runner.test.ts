// The runner with an in-memory store and in-process workflows (unit level; the crash tests run a real process).
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { openDatabase, type Db } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { TasksRepo } from '../../src/store/repos/tasks-repo.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { TaskRunner, type Workflow } from '../../src/tasks/task-runner.js';
import type { TaskKind } from '../../src/tasks/task-kinds.js';
import { RackhandError } from '../../src/errors.js';

const silent = pino({ level: 'silent' });

function setup(db: Db = openDatabase(':memory:', MIGRATIONS)) {
  new ServersRepo(db, SecretBox.fromKey(Buffer.alloc(32, 1))).upsertMany(
    [1, 2].map((id) => ({ id, name: `s${id}`, status: 'free', type: 'Server', location: '', datacenter: '', rack: '', configuration: '', preset: '', tags: [], groups: [], hardware: [], interfaces: [] })),
  );
  const repo = new TasksRepo(db);
  return { db, repo, runner: new TaskRunner(repo, silent) };
}

/** A workflow that waits until the test releases it. */
function gated<K extends TaskKind>(kind: K, mutating = true) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const wf: Workflow<K, { password: string }> = {
    kind,
    mutating,
    async run(ctx) {
      await ctx.step('first', () => 1);
      await ctx.step('wait', () => Promise.race([gate, new Promise((_, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)))]));
      ctx.note('done', `secret length ${ctx.secrets?.password.length}`);
      return { ok: true };
    },
  };
  return { wf, release: () => release() };
}

const on = { action: 'on' } as const;

describe('TaskRunner', () => {
  it('runs a workflow, journals its steps, and never stores its secrets', async () => {
    const { runner, db } = setup();
    const g = gated('power');
    runner.register(g.wf);
    const t = runner.submit('power', { serverId: 1, params: on, secrets: { password: 'Tr0ub4dor&3' }, requestedBy: 'test' });
    expect(t.state).toBe('queued');
    g.release();
    const done = await runner.wait(t.id);
    expect(done).toMatchObject({ state: 'succeeded', result: { ok: true }, params: on, error: null });
    expect(done.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['first:started', 'first:succeeded', 'wait:started', 'wait:succeeded', 'done:note']);
    expect(JSON.stringify(db.prepare('SELECT * FROM tasks').all())).not.toContain('Tr0ub4dor');
    expect(JSON.stringify(db.prepare('SELECT * FROM task_steps').all())).not.toContain('Tr0ub4dor');
  });

  it('refuses parameters that do not fit the kind, before anything is recorded', () => {
    const { runner, db } = setup();
    runner.register(gated('power').wf);
    expect(() => runner.submit('power', { serverId: 1, params: { action: 'explode' } as never, requestedBy: 't' })).toThrow();
    expect((db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n).toBe(0);
  });

  it('refuses a second mutating task on a busy server with SERVER_BUSY, allows other servers and read-only tasks', async () => {
    const { runner } = setup();
    const g = gated('power');
    const r = gated('sensors', false);
    runner.register(g.wf);
    runner.register(r.wf);
    const first = runner.submit('power', { serverId: 1, params: on, secrets: { password: 'x' }, requestedBy: 't' });
    let err: unknown;
    try {
      runner.submit('power', { serverId: 1, params: on, secrets: { password: 'x' }, requestedBy: 't' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RackhandError);
    expect((err as RackhandError).code).toBe('SERVER_BUSY');
    expect((err as RackhandError).details).toMatchObject({ task: first.id });
    const other = runner.submit('power', { serverId: 2, params: on, secrets: { password: 'x' }, requestedBy: 't' });
    const read = runner.submit('sensors', { serverId: 1, params: {}, secrets: { password: 'x' }, requestedBy: 't' });
    g.release();
    r.release();
    expect((await runner.wait(first.id)).state).toBe('succeeded');
    expect((await runner.wait(other.id)).state).toBe('succeeded');
    expect((await runner.wait(read.id)).state).toBe('succeeded');
    // The lock is released: the server takes a new task.
    const again = runner.submit('power', { serverId: 1, params: on, secrets: { password: 'x' }, requestedBy: 't' });
    await runner.stop();
    expect((await runner.wait(again.id)).error?.code).toBe('TASK_INTERRUPTED');
  });

  it('a failing step fails the task with its code and runs the cleanup; cancel ends it as cancelled', async () => {
    const { runner } = setup();
    const cleaned: string[] = [];
    runner.register({
      kind: 'bmc_reset',
      mutating: true,
      run: async (ctx) => ctx.step('talk to bmc', () => Promise.reject(new RackhandError('BMC_TIMEOUT', 'no answer in 5 s'))),
      cleanup: async (_ctx, e) => void cleaned.push(e.code),
    });
    const g = gated('power');
    runner.register(g.wf);
    const t = await runner.wait(runner.submit('bmc_reset', { serverId: 1, params: { kind: 'cold' }, requestedBy: 't' }).id);
    expect(t).toMatchObject({ state: 'failed', error: { code: 'BMC_TIMEOUT', message: 'no answer in 5 s' } });
    expect(t.steps.at(-1)).toMatchObject({ name: 'talk to bmc', state: 'failed', message: 'BMC_TIMEOUT: no answer in 5 s' });
    expect(cleaned).toEqual(['BMC_TIMEOUT']);
    const long = runner.submit('power', { serverId: 1, params: on, secrets: { password: 'x' }, requestedBy: 't' });
    await new Promise((r) => setTimeout(r, 20));
    runner.cancel(long.id);
    expect(await runner.wait(long.id)).toMatchObject({ state: 'cancelled', error: { code: 'TASK_CANCELLED' } });
    expect(() => runner.cancel(long.id)).toThrow(/only a running task/);
  });

  it('recover() settles tasks a crash left unfinished, runs their settle hook, and frees the server', async () => {
    const { db, repo } = setup();
    const id = repo.insert({ kind: 'clear_pxe', serverId: 1, mutating: true, params: {}, requestedBy: 't' });
    repo.markRunning(id);
    repo.addStep(id, { name: 'disarm netboot', state: 'started', message: '' });
    const cleaned: number[] = [];
    const runner = new TaskRunner(new TasksRepo(db), silent);
    runner.register({ kind: 'clear_pxe', mutating: true, run: async () => null, settleInterrupted: (t) => void cleaned.push(t.id) });
    expect(await runner.recover()).toEqual({ resumed: 0, settled: 1 });
    expect(cleaned).toEqual([id]);
    const t = runner.get(id)!;
    expect(t).toMatchObject({ state: 'failed', error: { code: 'TASK_INTERRUPTED' } });
    expect(t.steps.map((s) => s.name)).toEqual(['disarm netboot', 'recovery']);
    expect(() => runner.submit('clear_pxe', { serverId: 1, params: {}, requestedBy: 't' })).not.toThrow();
  });
});

describe('waiting tasks across a stop', () => {
  /** A workflow that does one step, waits for a signal, then finishes with what it got. */
  function waiter(ran: string[]): Workflow<'clear_pxe'> {
    return {
      kind: 'clear_pxe',
      mutating: true,
      async run(ctx) {
        const armed = await ctx.step('arm', () => {
          ran.push('arm');
          return { token: 't-1' };
        });
        const report = await ctx.waitFor<{ ok: boolean }>('installer report', { step: 'wait for installer report', timeoutMs: 60_000 });
        await ctx.step('disarm', () => void ran.push('disarm'));
        return { armed, report };
      },
    };
  }

  const untilWaiting = async (repo: TasksRepo, id: number) => {
    while (!repo.get(id)?.waitingFor) await new Promise((r) => setTimeout(r, 5));
  };

  it('a signal wakes the waiting task', async () => {
    const { runner, repo } = setup();
    const ran: string[] = [];
    runner.register(waiter(ran));
    const t = runner.submit('clear_pxe', { serverId: 1, params: {}, requestedBy: 't' });
    await untilWaiting(repo, t.id);
    expect(runner.signal(t.id, 'installer report', { ok: true })).toBe(true);
    const done = await runner.wait(t.id);
    expect(done).toMatchObject({ state: 'succeeded', result: { armed: { token: 't-1' }, report: { ok: true } }, waitingFor: null });
    expect(ran).toEqual(['arm', 'disarm']);
  });

  it('a graceful stop suspends it; the next start resumes it without re-running finished steps, and a signal sent meanwhile is kept', async () => {
    const { db, runner, repo } = setup();
    const ran: string[] = [];
    runner.register(waiter(ran));
    const t = runner.submit('clear_pxe', { serverId: 1, params: {}, requestedBy: 't' });
    await untilWaiting(repo, t.id);
    await runner.stop({ graceMs: 10 });
    expect(repo.get(t.id)).toMatchObject({ state: 'running', waitingFor: 'installer report' });
    // The installer reports while rackhand is down (another process stored it).
    expect(repo.putSignal(t.id, 'installer report', { ok: true })).toBe(true);

    const next = new TaskRunner(new TasksRepo(db), silent);
    next.register(waiter(ran));
    expect(await next.recover()).toEqual({ resumed: 1, settled: 0 });
    const done = await next.wait(t.id);
    expect(done).toMatchObject({ state: 'succeeded', result: { armed: { token: 't-1' }, report: { ok: true } } });
    expect(ran).toEqual(['arm', 'disarm']); // "arm" ran once: the resumed run replayed its result
    expect(done.steps.map((s) => `${s.name}:${s.state}`)).toEqual([
      'arm:started',
      'arm:succeeded',
      'wait for installer report:started',
      'stop:note',
      'recovery:note',
      'wait for installer report:succeeded',
      'disarm:started',
      'disarm:succeeded',
    ]);
  });

  it('a task not waiting when rackhand stops is interrupted, not left running', async () => {
    const { runner } = setup();
    const g = gated('power');
    runner.register(g.wf);
    const t = runner.submit('power', { serverId: 1, params: on, requestedBy: 't' });
    await new Promise((r) => setTimeout(r, 20));
    await runner.stop({ graceMs: 10 });
    expect((await runner.wait(t.id)).error?.code).toBe('TASK_INTERRUPTED');
    expect(() => runner.submit('power', { serverId: 2, params: on, requestedBy: 't' })).toThrow(/stopping/);
  });
});
