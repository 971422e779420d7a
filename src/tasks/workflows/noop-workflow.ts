// The task of a request that asks for nothing to be done (clear_hdd "none", an imitated create_pxe): it touches
// no hardware, takes no server lock, and its journal says what was asked and why nothing happened.
import { RackhandError } from '../../errors.js';
import type { Workflow } from '../task-runner.js';

export function noopWorkflow(): Workflow<'noop'> {
  return {
    kind: 'noop',
    mutating: false,
    async run(ctx) {
      ctx.note(ctx.params.operation, ctx.params.reason);
      if (ctx.params.error) throw new RackhandError('BOOT_ERROR', ctx.params.error);
      return { operation: ctx.params.operation, performed: false, reason: ctx.params.reason };
    },
  };
}
