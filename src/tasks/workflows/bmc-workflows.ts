// Workflows that drive a BMC: verified power, boot device, sensors, BMC users, BMC reset.
import { setTimeout as sleep } from 'node:timers/promises';
import { RackhandError } from '../../errors.js';
import type { BmcDrivers } from '../../bmc/bmc-drivers.js';
import type { PowerState } from '../../bmc/bmc-driver.js';
import type { ServersRepo } from '../../store/repos/servers-repo.js';
import type { BmcAccountsRepo } from '../../store/repos/bmc-accounts-repo.js';
import type { Workflow, WorkflowContext } from '../task-runner.js';

export interface BmcTiming {
  /** Between status reads while confirming a power change. */
  powerPollMs: number;
  /** How long a hard power change may take to be confirmed. */
  powerTimeoutMs: number;
  /** How long an ACPI soft-off may take. */
  softOffTimeoutMs: number;
  /** How long a BMC may stay silent after a cold/warm reset. */
  bmcResetTimeoutMs: number;
}

export interface BmcWorkflowDeps {
  bmc: BmcDrivers;
  servers: ServersRepo;
  timing: BmcTiming;
}

type Ctx = WorkflowContext<any, any>;

/** The login rackhand itself uses for this server's BMC: no path may remove, disable or re-key it. */
function requireNotOwnAccount(d: BmcWorkflowDeps, serverId: number, name: string): void {
  const own = d.servers.bmcTarget(serverId).username;
  if (name.toLowerCase() === own.toLowerCase()) {
    throw new RackhandError('FORBIDDEN', `${name} is the account rackhand uses for this BMC; rackhand never changes it`, { field: 'username' });
  }
}

/** Reads until two consecutive reads show `want`: one read can race a BMC that is still switching. */
export async function confirmPower(d: BmcWorkflowDeps, ctx: Ctx, want: PowerState, timeoutMs: number): Promise<void> {
  const serverId = ctx.serverId!;
  const deadline = Date.now() + timeoutMs;
  let matches = 0;
  let last: PowerState | undefined;
  for (;;) {
    last = await d.bmc.call(serverId, (drv, t) => drv.powerStatus(t, { signal: ctx.signal }));
    d.servers.recordPower(serverId, last);
    matches = last === want ? matches + 1 : 0;
    if (matches >= 2) return;
    if (Date.now() + d.timing.powerPollMs > deadline) break;
    await sleep(d.timing.powerPollMs, undefined, { signal: ctx.signal });
  }
  throw new RackhandError('BMC_TIMEOUT', `power did not read ${want} twice within ${Math.round(timeoutMs / 1000)} s (last read: ${last})`, {
    want,
    last,
  });
}

export async function readPower(d: BmcWorkflowDeps, ctx: Ctx): Promise<PowerState> {
  const s = await d.bmc.call(ctx.serverId!, (drv, t) => drv.powerStatus(t, { signal: ctx.signal }));
  d.servers.recordPower(ctx.serverId!, s);
  return s;
}

export function powerWorkflow(d: BmcWorkflowDeps): Workflow<'power'> {
  return {
    kind: 'power',
    mutating: true,
    async run(ctx) {
      const { action } = ctx.params;
      const before = await ctx.step('read power state', () => readPower(d, ctx));
      const call = (a: 'on' | 'off' | 'soft' | 'reset' | 'cycle') => ctx.step(`power ${a}`, () => d.bmc.call(ctx.serverId!, (drv, t) => drv.power(t, a, { signal: ctx.signal })));
      const confirm = (want: PowerState, timeout = d.timing.powerTimeoutMs) => ctx.step(`confirm power ${want}`, () => confirmPower(d, ctx, want, timeout));
      switch (action) {
        case 'on':
          // Never a cycle: a server that is on stays untouched.
          if (before === 'on') {
            ctx.note('power on', 'already on: nothing done');
            return { power: 'on', changed: false };
          }
          await call('on');
          await confirm('on');
          return { power: 'on', changed: true };
        case 'off':
          if (before === 'off') {
            ctx.note('power off', 'already off: nothing done');
            return { power: 'off', changed: false };
          }
          await call('off');
          await confirm('off');
          return { power: 'off', changed: true };
        case 'soft':
          if (before === 'off') {
            ctx.note('soft off', 'already off: nothing done');
            return { power: 'off', changed: false };
          }
          await call('soft');
          await confirm('off', d.timing.softOffTimeoutMs);
          return { power: 'off', changed: true };
        case 'reboot':
        case 'reset':
          // A reset does nothing to a server that is off; power it on instead.
          if (before === 'off') {
            ctx.note('reboot', 'server was off: powering on');
            await call('on');
          } else await call('reset');
          await confirm('on');
          return { power: 'on', changed: true };
        case 'cycle':
          await call(before === 'off' ? 'on' : 'cycle');
          await confirm('on');
          return { power: 'on', changed: true };
      }
    },
  };
}

/** Start the server into whatever its boot device says: power on when off, reset when on; confirmed on. */
export async function powerOnOrReset(d: BmcWorkflowDeps, ctx: Ctx): Promise<'on' | 'reset'> {
  const before = await readPower(d, ctx);
  const action = before === 'off' ? 'on' : 'reset';
  await d.bmc.call(ctx.serverId!, (drv, t) => drv.power(t, action, { signal: ctx.signal }));
  await confirmPower(d, ctx, 'on', d.timing.powerTimeoutMs);
  return action;
}

export function bootDeviceWorkflow(d: BmcWorkflowDeps): Workflow<'boot_device'> {
  return {
    kind: 'boot_device',
    mutating: true,
    async run(ctx) {
      const { retryUnreachableMs, reason, ...want } = ctx.params;
      if (reason) ctx.note('reason', reason);
      const deadline = Date.now() + (retryUnreachableMs ?? 0);
      await ctx.step(`set boot device ${want.device} (${want.mode}, ${want.persistent ? 'persistent' : 'next boot'})`, async () => {
        // After a crash the BMC may be the thing that is down: keep trying until it answers, if asked to.
        for (;;) {
          try {
            return await d.bmc.call(ctx.serverId!, (drv, t) => drv.setBootDevice(t, want, { signal: ctx.signal }));
          } catch (e) {
            const code = e instanceof RackhandError ? e.code : '';
            if ((code !== 'BMC_UNREACHABLE' && code !== 'BMC_TIMEOUT') || Date.now() > deadline) throw e;
            await sleep(Math.max(d.timing.powerPollMs, 5000), undefined, { signal: ctx.signal });
          }
        }
      });
      const got = await ctx.step('read back boot device', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.getBootDevice(t, { signal: ctx.signal })));
      if (got.device !== want.device) {
        throw new RackhandError('BMC_ERROR', `BMC reports boot device ${got.device} after setting ${want.device}`, { want, got });
      }
      if (got.mode !== want.mode && want.mode !== 'auto') ctx.note('read back', `BMC reports boot mode ${got.mode} (asked ${want.mode}); many BMCs do not report it`);
      return { device: got.device, mode: got.mode, persistent: got.persistent };
    },
  };
}

export function sensorsWorkflow(d: BmcWorkflowDeps): Workflow<'sensors'> {
  return {
    kind: 'sensors',
    mutating: false,
    run: (ctx) => ctx.step('read sensors', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.sensors(t, { signal: ctx.signal }))),
  };
}

/** Reads the BMC's event log (IPMI SEL, Redfish LogService), oldest first. */
export function eventLogWorkflow(d: BmcWorkflowDeps): Workflow<'event_log'> {
  return {
    kind: 'event_log',
    mutating: false,
    run: (ctx) => ctx.step('read the event log', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.readEventLog(t, { signal: ctx.signal }))),
  };
}

export function eventLogClearWorkflow(d: BmcWorkflowDeps): Workflow<'event_log_clear'> {
  return {
    kind: 'event_log_clear',
    mutating: true,
    async run(ctx) {
      await ctx.step('clear the event log', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.clearEventLog(t, { signal: ctx.signal })));
      const left = await ctx.step('read it back', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.readEventLog(t, { signal: ctx.signal })));
      // A BMC logs the clearing itself (IPMI "log area reset/cleared"): one entry may be left, no more.
      if (left.length > 1) throw new RackhandError('BMC_ERROR', `the BMC still lists ${left.length} event log entries after clearing it`);
      return { cleared: true, left: left.length };
    },
  };
}

export function addBmcUserWorkflow(d: BmcWorkflowDeps & { accounts: BmcAccountsRepo }): Workflow<'bmc_user_add', { password: string }> {
  return {
    kind: 'bmc_user_add',
    mutating: true,
    async run(ctx) {
      const { name, privilege } = ctx.params;
      const password = ctx.secrets?.password;
      if (!password) throw new RackhandError('TASK_INTERRUPTED', 'the new account\'s password is gone (rackhand restarted); ask again');
      requireNotOwnAccount(d, ctx.serverId!, name);
      const users = await ctx.step('list BMC users', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.listUsers(t, { signal: ctx.signal })));
      if (users.some((u) => u.name.toLowerCase() === name.toLowerCase())) {
        throw new RackhandError('CONFLICT', `BMC user ${name} exists already`, { field: 'admin_user' });
      }
      const { id } = await ctx.step(`add BMC user ${name} (${privilege})`, () =>
        d.bmc.call(ctx.serverId!, (drv, t) => drv.addUser(t, { name, password, privilege }, { signal: ctx.signal })),
      );
      d.accounts.record(ctx.serverId!, name, privilege);
      const after = await ctx.step('confirm BMC user', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.listUsers(t, { signal: ctx.signal })));
      const added = after.find((u) => u.name === name);
      if (!added?.enabled) throw new RackhandError('BMC_ERROR', `BMC user ${name} is not listed as enabled after adding it`);
      return { username: name, user_id: id, privilege };
    },
  };
}

export function removeBmcUserWorkflow(d: BmcWorkflowDeps & { accounts: BmcAccountsRepo }): Workflow<'bmc_user_remove'> {
  return {
    kind: 'bmc_user_remove',
    mutating: true,
    async run(ctx) {
      const { name } = ctx.params;
      requireNotOwnAccount(d, ctx.serverId!, name);
      const users = await ctx.step('list BMC users', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.listUsers(t, { signal: ctx.signal })));
      if (!users.some((u) => u.name === name)) throw new RackhandError('NOT_FOUND', `no BMC user named ${name}`, { field: 'username' });
      await ctx.step(`remove BMC user ${name}`, () => d.bmc.call(ctx.serverId!, (drv, t) => drv.removeUser(t, name, { signal: ctx.signal })));
      const after = await ctx.step('confirm removal', () => d.bmc.call(ctx.serverId!, (drv, t) => drv.listUsers(t, { signal: ctx.signal })));
      if (after.some((u) => u.name === name)) throw new RackhandError('BMC_ERROR', `BMC user ${name} is still listed after removal`);
      d.accounts.forget(ctx.serverId!, name);
      return { removed: name };
    },
  };
}

export function bmcResetWorkflow(d: BmcWorkflowDeps): Workflow<'bmc_reset'> {
  return {
    kind: 'bmc_reset',
    mutating: true,
    async run(ctx) {
      await ctx.step(`BMC ${ctx.params.kind} reset`, () => d.bmc.call(ctx.serverId!, (drv, t) => drv.resetBmc(t, ctx.params.kind, { signal: ctx.signal })));
      // The BMC reboots: wait until it answers again, so the next task does not meet a dead BMC.
      const info = await ctx.step('wait for the BMC to answer', async () => {
        const deadline = Date.now() + d.timing.bmcResetTimeoutMs;
        await sleep(Math.min(5000, d.timing.powerPollMs * 2), undefined, { signal: ctx.signal });
        for (;;) {
          try {
            return await d.bmc.call(ctx.serverId!, (drv, t) => drv.deviceInfo(t, { signal: ctx.signal }));
          } catch (e) {
            if (Date.now() > deadline) throw new RackhandError('BMC_TIMEOUT', 'the BMC did not come back after its reset', { cause: String(e) });
            await sleep(d.timing.powerPollMs, undefined, { signal: ctx.signal });
          }
        }
      });
      return { firmware: info.firmware };
    },
  };
}

export function bmcWorkflows(d: BmcWorkflowDeps & { accounts: BmcAccountsRepo }): Workflow<any, any>[] {
  return [
    powerWorkflow(d), bootDeviceWorkflow(d), sensorsWorkflow(d), eventLogWorkflow(d), eventLogClearWorkflow(d), addBmcUserWorkflow(d), removeBmcUserWorkflow(d),
    bmcResetWorkflow(d),
  ];
}
