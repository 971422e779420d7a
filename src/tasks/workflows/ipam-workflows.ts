// Task records for address changes: allocation is instant, but every change a caller can poll is a task.
import type { Workflow } from '../task-runner.js';

/** Both workflows only journal what the IPAM already did: no hardware, no lock (non-mutating). */
export function ipamWorkflows(): Workflow<'ip_allocate' | 'ip_release'>[] {
  const record = (kind: 'ip_allocate' | 'ip_release', verb: string): Workflow<'ip_allocate' | 'ip_release'> => ({
    kind,
    mutating: false,
    async run(ctx) {
      ctx.note(kind, `${ctx.params.ip} ${verb} server ${ctx.serverId}`);
      return { ip_id: ctx.params.ip_id, ip: ctx.params.ip };
    },
  });
  return [record('ip_allocate', 'given to'), record('ip_release', 'taken back from')];
}
