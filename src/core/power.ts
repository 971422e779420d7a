// The BMC capability: power, boot device, sensors, BMC accounts, BMC reset and the site-wide power read, each
// checked against the caller and started as a task.
import { randomBytes, randomInt } from 'node:crypto';
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import type { BootDevice, BootMode, SensorReading } from '../bmc/bmc-driver.js';
import { BMC_DRIVER_FEATURES, type ServerRecord } from '../domain/server.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { BmcAccountsRepo } from '../store/repos/bmc-accounts-repo.js';
import type { SensorHistoryRepo } from '../store/repos/sensor-history-repo.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import type { TaskParams } from '../tasks/task-kinds.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';
import { readTaskResult } from './tasks.js';

export type PowerRequest = TaskParams<'power'>['action'];
/** Privileges of the BMC accounts rackhand creates. */
export type AccountPrivilege = TaskParams<'bmc_user_add'>['privilege'];

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

/** The seed's rule: administrator BMC accounts exist only on servers tagged `admin_ipmi`. */
export function hasAdminIpmiTag(s: ServerRecord): boolean {
  return s.tags.some((t) => t.tag === 'admin_ipmi' && !['0', 'false', 'no', 'off'].includes(t.value.trim().toLowerCase()));
}

export interface PowerSettings {
  /** How long a caller waiting for sensor readings waits. */
  sensorsWaitMs: number;
  /** BMC accounts rackhand creates per server at most (a BMC has 10-16 user slots in all). */
  maxAddedBmcUsers: number;
}

export class Power {
  constructor(
    private readonly servers: ServersRepo,
    private readonly accounts: BmcAccountsRepo,
    private readonly tasks: TaskRunner,
    private readonly settings: PowerSettings,
    /** The site-wide loops, run on demand: the power read and the sensor sampling. */
    private readonly sweeps: { power: { syncOnce(): Promise<unknown> }; sensors: { sampleOnce(): Promise<unknown> } },
    /** Where a fresh read is kept, beside the periodic samples (the 24-hour chart shows it). */
    private readonly sensorHistory?: Pick<SensorHistoryRepo, 'append'>,
  ) {}

  power(p: Principal, serverId: number, action: PowerRequest): TaskRecord {
    this.withBmc(p, serverId);
    return this.tasks.submit('power', { serverId, params: { action }, requestedBy: describePrincipal(p) });
  }

  bootDevice(p: Principal, serverId: number, s: { device: BootDevice; mode: BootMode; persistent: boolean }): TaskRecord {
    const server = this.withBmc(p, serverId);
    if (s.device === 'http' && !BMC_DRIVER_FEATURES[server.bmc!.driver].uefiHttpBoot) {
      throw new RackhandError('BMC_UNSUPPORTED', `server ${serverId}'s ${server.bmc!.driver} BMC has no UEFI HTTP boot device: boot it pxe (rackhand answers UEFI HTTP clients on DHCP)`, { field: 'device' });
    }
    return this.tasks.submit('boot_device', { serverId, params: s, requestedBy: describePrincipal(p) });
  }

  /** Sensors are a (read-only) task too, so the read is journalled; callers get the readings when it ends. */
  async sensors(p: Principal, serverId: number): Promise<{ task: TaskRecord; sensors: SensorReading[] }> {
    this.withBmc(p, serverId);
    const t = this.tasks.submit('sensors', { serverId, params: {}, requestedBy: describePrincipal(p) });
    const { task: done, result: sensors } = await readTaskResult<SensorReading[]>(this.tasks, t, this.settings.sensorsWaitMs, 'sensor read');
    this.sensorHistory?.append(serverId, sensors, new Date(done.finishedAt ?? Date.now()));
    return { task: done, sensors };
  }

  /**
   * Add a BMC account. Without a name and password, random ones are made. The password is returned to this
   * caller once and kept nowhere (the task holds it in memory only while it runs). The privilege follows the
   * caller: operator unless an admin or central token asks for administrator on a server tagged admin_ipmi.
   */
  addUser(
    p: Principal,
    serverId: number,
    u: { name?: string; password?: string; privilege?: AccountPrivilege },
  ): { task: TaskRecord; username: string; password: string; privilege: AccountPrivilege } {
    const server = this.withBmc(p, serverId);
    const privilege = u.privilege ?? 'operator';
    if (privilege === 'administrator') {
      requireAllowed(can.grantBmcAdministrator(p), 'create administrator BMC accounts');
      if (!hasAdminIpmiTag(server)) {
        throw new RackhandError('FORBIDDEN', `server ${serverId} has no admin_ipmi tag: administrator BMC accounts are not created on it`, {
          field: 'privilege',
        });
      }
    }
    const username = u.name ?? randomLogin();
    if (server.bmc && username.toLowerCase() === server.bmc.username.toLowerCase()) {
      throw new RackhandError('FORBIDDEN', `${username} is the account rackhand uses for this BMC; rackhand never changes it`, { field: 'username' });
    }
    const added = this.accounts.count(serverId);
    if (added >= this.settings.maxAddedBmcUsers) {
      throw new RackhandError('CONFLICT', `server ${serverId} already has ${added} BMC accounts made by rackhand (the limit); remove one first`, {
        limit: this.settings.maxAddedBmcUsers,
      });
    }
    const password = u.password ?? randomBmcPassword();
    const task = this.tasks.submit('bmc_user_add', {
      serverId,
      params: { name: username, privilege },
      secrets: { password },
      requestedBy: describePrincipal(p),
    });
    return { task, username, password, privilege };
  }

  removeUser(p: Principal, serverId: number, name: string): TaskRecord {
    const server = this.withBmc(p, serverId);
    if (server.bmc && name.toLowerCase() === server.bmc.username.toLowerCase()) {
      throw new RackhandError('FORBIDDEN', `${name} is the account rackhand uses for this BMC; rackhand never changes it`, { field: 'username' });
    }
    return this.tasks.submit('bmc_user_remove', { serverId, params: { name }, requestedBy: describePrincipal(p) });
  }

  resetBmc(p: Principal, serverId: number, kind: 'cold' | 'warm'): TaskRecord {
    this.withBmc(p, serverId);
    return this.tasks.submit('bmc_reset', { serverId, params: { kind }, requestedBy: describePrincipal(p) });
  }

  syncAll(p: Principal): Promise<unknown> {
    requireAllowed(can.seeAllServers(p), 'sync the whole site');
    return this.sweeps.power.syncOnce();
  }

  /** One pass of the sensor sampling over every BMC now, stored as history like the periodic ones. */
  sampleAll(p: Principal): Promise<unknown> {
    requireAllowed(can.seeAllServers(p), "sample the whole site's sensors");
    return this.sweeps.sensors.sampleOnce();
  }

  private withBmc(p: Principal, serverId: number): ServerRecord {
    const s = requireVisibleServer(p, this.servers.get(serverId), serverId);
    if (!s.bmc) throw new RackhandError('BMC_NOT_CONFIGURED', `server ${serverId} has no BMC configured`, { id: serverId });
    return s;
  }
}
