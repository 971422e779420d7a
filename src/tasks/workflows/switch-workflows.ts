// The suspend / resume tasks: every switch port of a server down / up, then the persistent suspended flag.
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import type { ServersRepo } from '../../store/repos/servers-repo.js';
import type { SwitchPortService } from '../../switch/switch-port-service.js';
import type { Workflow } from '../task-runner.js';

export interface SwitchWorkflowDeps {
  ports: SwitchPortService;
  servers: ServersRepo;
}

export function switchWorkflows(d: SwitchWorkflowDeps): Workflow<'suspend' | 'resume'>[] {
  const make = (kind: 'suspend' | 'resume'): Workflow<'suspend' | 'resume'> => {
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
        await ctx.step(suspended ? 'mark server suspended' : 'clear suspended mark', () => d.servers.setSuspended(serverId, suspended));
        return { suspended, ports };
      },
      /**
       * A crash mid-way may leave some ports changed: put them all back to what the persisted flag says
       * (it only changes after success). Best effort; the task is marked failed either way.
       */
      async settleInterrupted(task: TaskRecord, { log }) {
        if (task.serverId === null) return;
        const flag = d.servers.get(task.serverId)?.suspended ?? false;
        await d.ports.setServerPorts(task.serverId, flag ? 'down' : 'up');
        log.info({ task: task.id, server: task.serverId }, `switch ports put back ${flag ? 'down' : 'up'} after an interrupted ${kind}`);
      },
    };
  };
  return [make('suspend'), make('resume')];
}
