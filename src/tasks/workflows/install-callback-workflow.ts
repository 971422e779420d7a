// The post_install_callback of a create_pxe install, sent when its installer reports (create_pxe's own task has
// finished by then): signed, retried with backoff, each attempt in this task's journal. Touches no hardware.
import { RackhandError } from '../../errors.js';
import type { PostInstallNotifier } from '../../core/post-install-notifier.js';
import type { Workflow } from '../task-runner.js';

export function installCallbackWorkflow(d: { notifier: PostInstallNotifier }): Workflow<'install_callback'> {
  return {
    kind: 'install_callback',
    mutating: false,
    async run(ctx) {
      const p = ctx.params;
      // The receiver hears of the create_pxe task it started, not of this one.
      const delivered = await d.notifier.notify({ taskId: p.task, serverId: ctx.serverId, note: ctx.note }, p.url, {
        status: p.status,
        osId: p.os_id,
        code: p.code,
        reason: p.reason,
      });
      if (!delivered) throw new RackhandError('UNAVAILABLE', 'post_install_callback was not delivered (see the journal for each attempt)');
      return { delivered: true, status: p.status, task: p.task };
    },
  };
}
