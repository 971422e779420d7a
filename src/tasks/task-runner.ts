// The task runner: every hardware operation runs here, one mutating task per server, journalled step by step,
// and settled at start-up when a crash interrupted it.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { RackhandError, toRackhandError } from '../errors.js';
import type { TaskFilter, TaskRecord, TasksRepo, TaskStep } from '../store/repos/tasks-repo.js';

export interface WorkflowContext<P = Record<string, unknown>, S = unknown> {
  taskId: number;
  serverId: number | null;
  params: P;
  /** Secrets for this run only (passwords): kept in memory, never written to the store. */
  secrets: S;
  signal: AbortSignal;
  /** Run one journalled step: started, then succeeded or failed with the error's message. */
  step<T>(name: string, fn: () => Promise<T> | T): Promise<T>;
  note(name: string, message: string): void;
  log: Logger;
}

export interface Workflow<P = Record<string, unknown>, S = unknown> {
  kind: string;
  /** Mutating tasks hold the server's lock; read-only ones (sensors) do not. */
  mutating: boolean;
  run(ctx: WorkflowContext<P, S>): Promise<unknown>;
  /** Called at start-up for a task a crash left unfinished, before it is marked failed: undo half-done work. */
  settleInterrupted?(task: TaskRecord, log: Logger): Promise<void> | void;
}

export interface SubmitRequest<P, S> {
  serverId: number | null;
  params: P;
  secrets?: S;
  requestedBy: string;
}

export type TaskEvent = { type: 'task'; task: TaskRecord } | { type: 'step'; taskId: number; serverId: number | null; step: TaskStep };

export class TaskRunner {
  private readonly workflows = new Map<string, Workflow<any, any>>();
  private readonly running = new Map<number, { abort: AbortController; done: Promise<void> }>();
  readonly events = new EventEmitter();

  constructor(
    private readonly repo: TasksRepo,
    private readonly log: Logger,
  ) {
    this.events.setMaxListeners(0);
  }

  register<P, S>(wf: Workflow<P, S>): void {
    if (this.workflows.has(wf.kind)) throw new Error(`workflow ${wf.kind} registered twice`);
    this.workflows.set(wf.kind, wf as Workflow<any, any>);
  }

  /** Settle whatever a crash left queued or running: clean up, mark failed, say so in the journal. */
  async recover(): Promise<number> {
    const stale = this.repo.unfinished();
    for (const t of stale) {
      const wf = this.workflows.get(t.kind);
      try {
        await wf?.settleInterrupted?.(t, this.log);
        this.repo.addStep(t.id, { name: 'recovery', state: 'note', message: 'rackhand restarted while this task ran; settled as failed' });
      } catch (e) {
        this.repo.addStep(t.id, { name: 'recovery', state: 'failed', message: `cleanup failed: ${toRackhandError(e).message}` });
      }
      this.repo.finish(t.id, 'failed', {
        error: { code: 'TASK_INTERRUPTED', message: 'interrupted by a rackhand restart' },
      });
      this.log.warn({ task: t.id, kind: t.kind, server: t.serverId }, 'settled a task interrupted by a restart');
      this.emitTask(t.id);
    }
    return stale.length;
  }

  /** Record the task and start it; returns at once. A busy server is refused with SERVER_BUSY. */
  submit<P extends Record<string, unknown>, S>(kind: string, req: SubmitRequest<P, S>): TaskRecord {
    const wf = this.workflows.get(kind);
    if (!wf) throw new RackhandError('NOT_IMPLEMENTED', `no workflow for task kind ${kind}`);
    const id = this.repo.insert({
      kind,
      serverId: req.serverId,
      mutating: wf.mutating,
      params: req.params,
      requestedBy: req.requestedBy,
    });
    const abort = new AbortController();
    const done = this.execute(wf, id, req, abort.signal).finally(() => this.running.delete(id));
    this.running.set(id, { abort, done });
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

  /** Resolves when the task has finished (for callers that must wait: the CLI, tests, composite workflows). */
  async wait(id: number): Promise<TaskRecord> {
    await this.running.get(id)?.done;
    return this.repo.get(id)!;
  }

  isRunning(id: number): boolean {
    return this.running.has(id);
  }

  /** Abort what runs and wait for it to settle. */
  async stop(): Promise<void> {
    for (const { abort } of this.running.values()) abort.abort(new RackhandError('TASK_INTERRUPTED', 'rackhand is stopping'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private async execute<P, S>(wf: Workflow<P, S>, id: number, req: SubmitRequest<P, S>, signal: AbortSignal): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    const log = this.log.child({ task: id, kind: wf.kind, server: req.serverId });
    this.repo.markRunning(id);
    this.emitTask(id);
    const ctx: WorkflowContext<P, S> = {
      taskId: id,
      serverId: req.serverId,
      params: req.params,
      secrets: req.secrets as S,
      signal,
      log,
      step: async (name, fn) => {
        signal.throwIfAborted();
        this.addStep(id, req.serverId, { name, state: 'started', message: '' });
        try {
          const value = await fn();
          this.addStep(id, req.serverId, { name, state: 'succeeded', message: '' });
          return value;
        } catch (e) {
          const err = toRackhandError(e);
          this.addStep(id, req.serverId, { name, state: 'failed', message: `${err.code}: ${err.message}` });
          throw e;
        }
      },
      note: (name, message) => this.addStep(id, req.serverId, { name, state: 'note', message }),
    };
    try {
      const result = await wf.run(ctx);
      this.repo.finish(id, 'succeeded', { result });
      log.info('task succeeded');
    } catch (e) {
      const err = signal.aborted ? toRackhandError(signal.reason) : toRackhandError(e);
      const state = err.code === 'TASK_CANCELLED' ? 'cancelled' : 'failed';
      this.repo.finish(id, state, { error: { code: err.code, message: err.message } });
      log.warn({ code: err.code, msg: err.message }, `task ${state}`);
    }
    this.emitTask(id);
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
