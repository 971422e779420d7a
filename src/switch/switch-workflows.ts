// The suspend / resume tasks (switch ports down / up, then the persistent flag) and the DCImanager operations that submit them.
import { can, describePrincipal, type Principal } from '../auth/tokens.js';
import { assertAllowed } from '../core/access.js';
import type { Logger } from '../log.js';
import type { TaskRunner, Workflow } from '../tasks/task-runner.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { SwitchPortService } from './switch-port-service.js';
import type { SwitchesRepo } from './switches-repo.js';

export interface SwitchWorkflowDeps {
  ports: SwitchPortService;
  switches: SwitchesRepo;
}

export function switchWorkflows(d: SwitchWorkflowDeps): Workflow<Record<string, never>>[] {
  const make = (kind: 'suspend' | 'resume'): Workflow<Record<string, never>> => {
    const suspended = kind === 'suspend';
    const state = suspended ? 'down' : 'up';
    return {
      kind,
      mutating: true,
      async run(ctx) {
        const serverId = ctx.serverId!;
        const ports = await ctx.step(`set switch ports ${state}`, () =>
          d.ports.setServerPorts(serverId, state, { signal: ctx.signal, note: (m) => ctx.note('port', m) }),
        );
        // The flag changes only once every port is confirmed: it always tells what the switches enforce.
        await ctx.step(suspended ? 'mark server suspended' : 'clear suspended mark', () => d.switches.setSuspended(serverId, suspended));
        return { suspended, ports };
      },
      /**
       * A crash mid-way may leave some ports changed: put them all back to what the persisted flag says
       * (it only changes after success). Best effort; the task is marked failed either way.
       */
      async settleInterrupted(task: TaskRecord, log: Logger) {
        if (task.serverId === null) return;
        const { suspended: flag } = d.switches.suspension(task.serverId);
        await d.ports.setServerPorts(task.serverId, flag ? 'down' : 'up');
        log.info({ task: task.id, server: task.serverId }, `switch ports put back ${flag ? 'down' : 'up'} after an interrupted ${kind}`);
      },
    };
  };
  return [make('suspend'), make('resume')];
}

/**
 * DciServerOperation implementations for dciRoutes' `suspend` / `resume` (the route already checked that the
 * caller sees the server). Clients may not: a customer must not lift a billing suspension.
 */
export function switchOperations(tasks: TaskRunner) {
  const submit = (kind: 'suspend' | 'resume') => (p: Principal, serverId: number, _body: Record<string, unknown>) => {
    assertAllowed(can.seeAllServers(p), `${kind} servers`);
    const t = tasks.submit(kind, { serverId, params: {}, requestedBy: describePrincipal(p) });
    return { task: t.id };
  };
  return { suspend: submit('suspend'), resume: submit('resume') };
}
