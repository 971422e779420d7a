// The task of a request that asks for nothing to be done (clear_hdd "none"): it touches no hardware, takes no
// server lock, and its journal says what was asked and why nothing happened.
import type { Workflow } from '../task-runner.js';

export function noopWorkflow(): Workflow<'noop'> {
  return {
    kind: 'noop',
    mutating: false,
    async run(ctx) {
      ctx.note(ctx.params.operation, ctx.params.reason);
      return { operation: ctx.params.operation, performed: false, reason: ctx.params.reason };
    },
  };
}
