// eq actions backed by BMC operations: on, off, reboot, boot_dev, sensors, add/remove_ipmi_user, unit_reset.
import type { BmcOperations } from '../../core/bmc-operations.js';
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import type { EqHandlers } from './eq-routes.js';

const taskReply = (t: TaskRecord) => ({ id: t.serverId, task: t.id, state: t.state });

export function eqBmcHandlers(ops: BmcOperations): Partial<EqHandlers> {
  return {
    on: (p, x) => taskReply(ops.power(p, x.id, 'on')),
    off: (p, x) => taskReply(ops.power(p, x.id, 'off')),
    reboot: (p, x) => taskReply(ops.power(p, x.id, 'reboot')),
    boot_dev: (p, x) =>
      taskReply(ops.bootDevice(p, x.id, { device: x.media, mode: x.boot_mode ?? 'auto', persistent: x.media === 'disk' })),
    sensors: async (p, x) => {
      const { task, sensors } = await ops.sensors(p, x.id);
      return { id: x.id, task: task.id, read_at: task.finishedAt, sensors };
    },
    add_ipmi_user: (p, x) => {
      const r = ops.addUser(p, x.id, { name: x.admin_user, password: x.admin_pass });
      // The one and only time these credentials are shown.
      return { ...taskReply(r.task), username: r.username, password: r.password };
    },
    remove_ipmi_user: (p, x) => taskReply(ops.removeUser(p, x.id, x.username)),
    unit_reset: (p, x) => taskReply(ops.resetBmc(p, x.id, 'cold')),
  };
}
