// BMC operations as every facade asks for them: check access, start the task, answer with it.
import { randomBytes, randomInt } from 'node:crypto';
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import type { BmcPrivilege, BootDevice, BootMode, SensorReading } from '../bmc/bmc-driver.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import type { PowerRequest } from '../tasks/workflows/bmc-workflows.js';
import type { InventoryService } from './inventory-service.js';

/** Login names BMCs accept everywhere: 16 characters at most, letters and digits. */
function randomLogin(): string {
  return 'rh' + randomBytes(6).toString('hex').slice(0, 10);
}

/** 16 characters (many BMCs compare only 16 bytes) from upper, lower, digits and symbols every BMC takes. */
export function randomBmcPassword(length = 16): string {
  const sets = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '-_.+=#'];
  const all = sets.join('');
  const chars = sets.map((s) => s[randomInt(s.length)]);
  while (chars.length < length) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

export class BmcOperations {
  constructor(
    private readonly inventory: InventoryService,
    private readonly tasks: TaskRunner,
    /** How long a caller waiting for sensor readings waits. */
    private readonly sensorsWaitMs: number,
  ) {}

  power(p: Principal, serverId: number, action: PowerRequest): TaskRecord {
    this.withBmc(p, serverId);
    return this.tasks.submit('power', { serverId, params: { action }, requestedBy: describePrincipal(p) });
  }

  bootDevice(p: Principal, serverId: number, s: { device: BootDevice; mode: BootMode; persistent: boolean }): TaskRecord {
    this.withBmc(p, serverId);
    return this.tasks.submit('boot_device', { serverId, params: s, requestedBy: describePrincipal(p) });
  }

  /** Sensors are a (read-only) task too, so the read is journalled; callers get the readings when it ends. */
  async sensors(p: Principal, serverId: number): Promise<{ task: TaskRecord; sensors: SensorReading[] }> {
    this.withBmc(p, serverId);
    const t = this.tasks.submit('sensors', { serverId, params: {}, requestedBy: describePrincipal(p) });
    const done = await Promise.race([
      this.tasks.wait(t.id),
      new Promise<undefined>((r) => void setTimeout(() => r(undefined), this.sensorsWaitMs).unref()),
    ]);
    if (!done) throw new RackhandError('BMC_TIMEOUT', `sensor read still running after ${this.sensorsWaitMs} ms; see task ${t.id}`, { task: t.id });
    if (done.state !== 'succeeded') {
      throw new RackhandError((done.error?.code as 'BMC_ERROR') ?? 'BMC_ERROR', done.error?.message ?? 'sensor read failed', { task: t.id });
    }
    return { task: done, sensors: done.result as SensorReading[] };
  }

  /**
   * Add a BMC user. Without a name and password, random ones are made. The password is returned to this
   * caller once and kept nowhere (the task holds it in memory only while it runs).
   */
  addUser(
    p: Principal,
    serverId: number,
    u: { name?: string; password?: string; privilege?: BmcPrivilege },
  ): { task: TaskRecord; username: string; password: string } {
    this.withBmc(p, serverId);
    const username = u.name ?? randomLogin();
    const password = u.password ?? randomBmcPassword();
    const privilege = u.privilege ?? (u.name ? 'administrator' : 'operator');
    const task = this.tasks.submit('bmc_user_add', {
      serverId,
      params: { name: username, privilege },
      secrets: { password },
      requestedBy: describePrincipal(p),
    });
    return { task, username, password };
  }

  removeUser(p: Principal, serverId: number, name: string): TaskRecord {
    this.withBmc(p, serverId);
    return this.tasks.submit('bmc_user_remove', { serverId, params: { name }, requestedBy: describePrincipal(p) });
  }

  resetBmc(p: Principal, serverId: number, kind: 'cold' | 'warm'): TaskRecord {
    this.withBmc(p, serverId);
    return this.tasks.submit('bmc_reset', { serverId, params: { kind }, requestedBy: describePrincipal(p) });
  }

  private withBmc(p: Principal, serverId: number): void {
    const s = this.inventory.show(p, serverId);
    if (!s.bmc) throw new RackhandError('BMC_NOT_CONFIGURED', `server ${serverId} has no BMC configured`, { id: serverId });
  }
}
