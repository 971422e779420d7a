// The task runner: every hardware operation runs here, one mutating task per server, journalled step by step.
// A task waiting for something outside rackhand (an installer calling back) survives a restart and resumes;
// anything else a crash or stop interrupted is settled at the next start with its workflow's cleanup.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { RackhandError, toRackhandError } from '../errors.js';
import type { TaskFilter, TaskRecord, TasksRepo, TaskStep } from '../store/repos/tasks-repo.js';
import { TASK_PARAMS, type TaskKind, type TaskParams } from './task-kinds.js';

export interface WorkflowContext<K extends TaskKind = TaskKind, S = unknown> {
  taskId: number;
  serverId: number | null;
  params: TaskParams<K>;
  /** Secrets for this run only (passwords): kept in memory, never written to the store; absent after a restart. */
  secrets: S | undefined;
  signal: AbortSignal;
  /**
   * Run one journalled step: started, then succeeded (with its result) or failed with the error's message.
   * When a task resumes after a restart, steps it had finished return their recorded result without running.
   */
  step<T>(name: string, fn: () => Promise<T> | T): Promise<T>;
  /**
   * Wait for a signal from outside (the installer's callback). The wait is recorded: a restart resumes the task
   * here, and a signal that arrived while rackhand was down is not lost. No signal in time is BOOT_ERROR.
   */
  waitFor<T = unknown>(signal: string, opts: { step: string; timeoutMs: number }): Promise<T>;
  note(name: string, message: string): void;
  log: Logger;
}

export interface Workflow<K extends TaskKind = TaskKind, S = unknown> {
  kind: K;
  /** Mutating tasks hold the server's lock; read-only ones (sensors) do not. */
  mutating: boolean;
  run(ctx: WorkflowContext<K, S>): Promise<unknown>;
  /** After a failure or cancel (not a stop-and-resume): undo half-done work. Its own failures are noted. */
  cleanup?(ctx: WorkflowContext<K, S>, error: RackhandError): Promise<void>;
  /** At start-up, for a task a crash left unfinished that cannot resume: undo half-done work. */
  settleInterrupted?(task: TaskRecord, tools: SettleTools): Promise<void> | void;
}

export interface SettleTools {
  log: Logger;
  /** Start a follow-up task (e.g. restore the boot device once the BMC answers). */
  submit<K extends TaskKind>(kind: K, req: SubmitRequest<K>): TaskRecord;
}

export interface SubmitRequest<K extends TaskKind, S = unknown> {
  serverId: number | null;
  params: TaskParams<K>;
  secrets?: S;
  requestedBy: string;
}

export type TaskEvent = { type: 'task'; task: TaskRecord } | { type: 'step'; taskId: number; serverId: number | null; step: TaskStep };

/** Thrown inside a workflow when rackhand stops while the task waits: the task is left to resume, not failed. */
class Suspended extends Error {}

interface Live {
  abort: AbortController;
  done: Promise<void>;
  /** Set while the task waits for a signal: such a task is suspended (not failed) by a graceful stop. */
  waiting?: { name: string; wake(payload: unknown): void; suspend(): void };
}

export class TaskRunner {
  private readonly workflows = new Map<TaskKind, Workflow<any, any>>();
  private readonly running = new Map<number, Live>();
  private stopping = false;
  readonly events = new EventEmitter();

  constructor(
    private readonly repo: TasksRepo,
    private readonly log: Logger,
  ) {
    this.events.setMaxListeners(0);
  }

  register<K extends TaskKind>(wf: Workflow<K, any>): void {
    if (this.workflows.has(wf.kind)) throw new Error(`workflow ${wf.kind} registered twice`);
    this.workflows.set(wf.kind, wf);
  }

  /**
   * At start-up: resume tasks that were waiting for a signal (their journal replays up to the wait); settle the
   * rest as failed with their workflow's cleanup, and say so in the journal.
   */
  async recover(): Promise<{ resumed: number; settled: number }> {
    let resumed = 0;
    let settled = 0;
    for (const t of this.repo.unfinished()) {
      const wf = this.workflows.get(t.kind as TaskKind);
      const params = wf && (TASK_PARAMS[wf.kind as TaskKind] as (typeof TASK_PARAMS)[TaskKind]).safeParse(t.params);
      if (wf && params?.success && t.waitingFor) {
        this.addStep(t.id, t.serverId, { name: 'recovery', state: 'note', message: `rackhand restarted; resuming the wait for ${t.waitingFor}` });
        this.start(wf, t.id, { serverId: t.serverId, params: params.data, requestedBy: t.requestedBy }, this.repo.get(t.id)!.steps);
        this.log.info({ task: t.id, kind: t.kind, server: t.serverId }, 'resumed a task that was waiting when rackhand stopped');
        resumed++;
        continue;
      }
      // Finished first, so the server's lock is free for a follow-up task the settle hook starts.
      this.repo.finish(t.id, 'failed', { error: { code: 'TASK_INTERRUPTED', message: 'interrupted by a rackhand restart' } });
      try {
        await wf?.settleInterrupted?.(t, { log: this.log, submit: (kind, req) => this.submit(kind, req) });
        this.addStep(t.id, t.serverId, { name: 'recovery', state: 'note', message: 'rackhand restarted while this task ran; settled as failed' });
      } catch (e) {
        this.addStep(t.id, t.serverId, { name: 'recovery', state: 'failed', message: `cleanup failed: ${toRackhandError(e).message}` });
      }
      this.log.warn({ task: t.id, kind: t.kind, server: t.serverId }, 'settled a task interrupted by a restart');
      this.emitTask(t.id);
      settled++;
    }
    return { resumed, settled };
  }

  /** Record the task and start it; returns at once. A busy server is refused with SERVER_BUSY. */
  submit<K extends TaskKind, S>(kind: K, req: SubmitRequest<K, S>): TaskRecord {
    if (this.stopping) throw new RackhandError('UNAVAILABLE', 'rackhand is stopping; try again when it is back');
    const wf = this.workflows.get(kind);
    if (!wf) throw new RackhandError('NOT_IMPLEMENTED', `no workflow for task kind ${kind}`);
    const params = TASK_PARAMS[kind].parse(req.params) as TaskParams<K>;
    const id = this.repo.insert({ kind, serverId: req.serverId, mutating: wf.mutating, params, requestedBy: req.requestedBy });
    this.start(wf, id, { ...req, params }, []);
    return this.repo.get(id)!;
  }

  get(id: number): TaskRecord | undefined {
    return this.repo.get(id);
  }

  list(filter: TaskFilter): { tasks: TaskRecord[]; total: number } {
    return this.repo.list(filter);
  }

  cancel(id: number): TaskRecord {
    const t = this.repo.get(id);
    if (!t) throw new RackhandError('NOT_FOUND', `task ${id} not found`, { id });
    const live = this.running.get(id);
    if (!live) throw new RackhandError('CONFLICT', `task ${id} is ${t.state}; only a running task can be cancelled`, { id });
    live.abort.abort(new RackhandError('TASK_CANCELLED', 'cancelled on request'));
    return this.repo.get(id)!;
  }

  /**
   * Deliver a signal to a task (the installer called back). It is stored first, so a task that is not waiting
   * yet — or resumes after a restart — still finds it. Returns false when the task is no longer running.
   */
  signal(taskId: number, name: string, payload: unknown): boolean {
    if (!this.repo.putSignal(taskId, name, payload)) return false;
    const live = this.running.get(taskId);
    if (live?.waiting?.name === name) live.waiting.wake(payload);
    return true;
  }

  /** Add a line to a running task's journal from outside its workflow (progress reported by a booted host). */
  journal(taskId: number, step: Omit<TaskStep, 'seq' | 'at'>): void {
    const t = this.repo.get(taskId);
    if (!t || (t.state !== 'running' && t.state !== 'queued')) return;
    this.addStep(taskId, t.serverId, step);
  }

  /** Resolves when the task has finished, or was suspended by a stop (for the CLI, tests, composite workflows). */
  async wait(id: number): Promise<TaskRecord> {
    await this.running.get(id)?.done;
    return this.repo.get(id)!;
  }

  isRunning(id: number): boolean {
    return this.running.has(id);
  }

  /**
   * Stop: new tasks are refused; tasks waiting for a signal are suspended (they resume at the next start);
   * the others get `graceMs` to finish their BMC work, then are interrupted (their cleanup runs).
   */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    this.stopping = true;
    for (const live of this.running.values()) live.waiting?.suspend();
    const all = Promise.allSettled([...this.running.values()].map((r) => r.done));
    if (opts.graceMs) await Promise.race([all, new Promise((r) => setTimeout(r, opts.graceMs).unref())]);
    for (const live of this.running.values()) {
      if (live.waiting) live.waiting.suspend();
      else live.abort.abort(new RackhandError('TASK_INTERRUPTED', 'rackhand is stopping'));
    }
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private start<K extends TaskKind, S>(wf: Workflow<K, S>, id: number, req: SubmitRequest<K, S>, replay: TaskStep[]): void {
    const abort = new AbortController();
    const live: Live = { abort, done: Promise.resolve() };
    live.done = this.execute(wf, id, req, live, replay).finally(() => this.running.delete(id));
    this.running.set(id, live);
  }

  private async execute<K extends TaskKind, S>(wf: Workflow<K, S>, id: number, req: SubmitRequest<K, S>, live: Live, replay: TaskStep[]): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    const signal = live.abort.signal;
    const log = this.log.child({ task: id, kind: wf.kind, server: req.serverId });
    this.repo.markRunning(id);
    this.emitTask(id);
    // Finished steps of an earlier run, in order: replayed (not run again) while the workflow retraces them.
    const done = replay.filter((s) => s.state === 'succeeded');
    let replaying = done.length > 0;
    const ctx: WorkflowContext<K, S> = {
      taskId: id,
      serverId: req.serverId,
      params: req.params,
      secrets: req.secrets,
      signal,
      log,
      step: async (name, fn) => {
        if (replaying) {
          const next = done.shift();
          if (next?.name === name) return next.result as Awaited<ReturnType<typeof fn>>;
          replaying = false;
        }
        signal.throwIfAborted();
        this.addStep(id, req.serverId, { name, state: 'started', message: '' });
        try {
          const value = await fn();
          this.addStep(id, req.serverId, { name, state: 'succeeded', message: '', result: value ?? null });
          return value;
        } catch (e) {
          if (e instanceof Suspended) throw e;
          const err = toRackhandError(e);
          this.addStep(id, req.serverId, { name, state: 'failed', message: `${err.code}: ${err.message}` });
          throw e;
        }
      },
      waitFor: async <T>(name: string, o: { step: string; timeoutMs: number }): Promise<T> => {
        replaying = false;
        signal.throwIfAborted();
        // A resumed wait keeps its first deadline: a restart does not extend the installer's time.
        const resumedAt = this.repo.get(id)?.waitDeadline;
        const deadline = resumedAt ? Date.parse(resumedAt) : Date.now() + o.timeoutMs;
        if (!resumedAt) {
          this.addStep(id, req.serverId, { name: o.step, state: 'started', message: '' });
          this.repo.setWaiting(id, name, new Date(deadline).toISOString());
        }
        try {
          const payload = await this.awaitSignal<T>(id, name, deadline, live, o);
          this.repo.setWaiting(id, null, null);
          this.addStep(id, req.serverId, { name: o.step, state: 'succeeded', message: '', result: payload ?? null });
          return payload;
        } catch (e) {
          if (!(e instanceof Suspended)) {
            this.repo.setWaiting(id, null, null);
            const err = toRackhandError(e);
            this.addStep(id, req.serverId, { name: o.step, state: 'failed', message: `${err.code}: ${err.message}` });
          }
          throw e;
        }
      },
      note: (name, message) => {
        if (!replaying) this.addStep(id, req.serverId, { name, state: 'note', message });
      },
    };
    try {
      const result = await wf.run(ctx);
      this.repo.finish(id, 'succeeded', { result });
      log.info('task succeeded');
    } catch (e) {
      if (e instanceof Suspended) {
        this.addStep(id, req.serverId, { name: 'stop', state: 'note', message: 'rackhand stopped while this task waited; it resumes at the next start' });
        log.info('task suspended by the stop; it resumes at the next start');
        return;
      }
      const err = signal.aborted ? toRackhandError(signal.reason) : toRackhandError(e);
      if (wf.cleanup) await wf.cleanup(ctx, err).catch((c) => ctx.note('cleanup', `failed: ${toRackhandError(c).message}`));
      const state = err.code === 'TASK_CANCELLED' ? 'cancelled' : 'failed';
      this.repo.finish(id, state, { error: { code: err.code, message: err.message } });
      log.warn({ code: err.code, reason: err.message }, `task ${state}`);
    }
    this.emitTask(id);
  }

  private awaitSignal<T>(id: number, name: string, deadline: number, live: Live, o: { timeoutMs: number }): Promise<T> {
    const stored = this.repo.getSignal(id, name);
    if (stored !== undefined) return Promise.resolve(stored.payload as T);
    return new Promise<T>((resolve, reject) => {
      const signal = live.abort.signal;
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        live.waiting = undefined;
      };
      const onAbort = () => (finish(), reject(signal.reason));
      const timer = setTimeout(() => {
        finish();
        reject(new RackhandError('BOOT_ERROR', `no ${name} within ${Math.round(o.timeoutMs / 1000)} s`));
      }, Math.max(0, deadline - Date.now()));
      signal.addEventListener('abort', onAbort, { once: true });
      live.waiting = {
        name,
        wake: (payload) => (finish(), resolve(payload as T)),
        suspend: () => (finish(), reject(new Suspended())),
      };
    });
  }

  private addStep(taskId: number, serverId: number | null, step: Omit<TaskStep, 'seq' | 'at'>): void {
    const saved = this.repo.addStep(taskId, step);
    this.events.emit('event', { type: 'step', taskId, serverId, step: saved } satisfies TaskEvent);
  }

  private emitTask(id: number): void {
    const task = this.repo.get(id);
    if (task) this.events.emit('event', { type: 'task', task } satisfies TaskEvent);
  }
}
