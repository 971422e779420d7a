// Workflows that boot a host from the network: create_pxe, clear_pxe, and the deploy run behind reinstall,
// order_instance, operation_os / operation_diag / operation_clear_hdd (arm → PXE → power → callback → disk).
import { setTimeout as sleep } from 'node:timers/promises';
import { RackhandError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { NetbootService } from '../../boot/netboot-service.js';
import type { NetbootPurpose } from '../../store/repos/netboot-repo.js';
import type { ServerStatus } from '../../inventory/server-schema.js';
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import type { Workflow, WorkflowContext } from '../task-runner.js';
import { confirmPower, powerOnOrReset, readPower, type BmcWorkflowDeps } from './bmc-workflows.js';

export interface NetbootWorkflowDeps extends BmcWorkflowDeps {
  netboot: NetbootService;
  /** How long an installer may take before the deploy fails. */
  installTimeoutMs: number;
  /** After the callback, the installer's time to unmount and sync before the reboot. */
  rebootGraceMs: number;
  log: Logger;
}

export interface DeployParams {
  purpose: NetbootPurpose;
  os_id?: number | string;
  os_name?: string;
  /** Template inputs without secrets (hostname, ssh_key, disk layout…). */
  install: Record<string, unknown>;
  uefi: boolean;
  post_install_callback?: string;
  /** The seed's imitate_deploy / imitate_error: run the steps without touching hardware. */
  imitate?: 'deploy' | 'error';
  /** Restored when the deploy ends (the server shows `deploying` meanwhile). */
  previous_status: ServerStatus;
  /** Everything else the caller sent (kept with the task for the record). */
  extra?: Record<string, unknown>;
}

export function createPxeWorkflow(d: NetbootWorkflowDeps): Workflow<Omit<DeployParams, 'previous_status' | 'uefi'>, { root_pass?: string }> {
  return {
    kind: 'create_pxe',
    mutating: true,
    async run(ctx) {
      const nb = await ctx.step('arm netboot', () =>
        d.netboot.arm(ctx.serverId!, {
          purpose: ctx.params.purpose,
          osId: ctx.params.os_id,
          osName: ctx.params.os_name,
          params: { ...ctx.params.install, root_pass: ctx.secrets.root_pass },
          taskId: ctx.taskId,
        }),
      );
      return { armed: true, os_id: nb.osId, purpose: nb.purpose };
    },
  };
}

export function clearPxeWorkflow(d: NetbootWorkflowDeps): Workflow<Record<string, never>> {
  return {
    kind: 'clear_pxe',
    mutating: true,
    async run(ctx) {
      const was = await ctx.step('disarm netboot', () => d.netboot.disarm(ctx.serverId!));
      if (!was) ctx.note('disarm netboot', 'nothing was armed');
      return { armed: false };
    },
  };
}

export function deployWorkflow(d: NetbootWorkflowDeps): Workflow<DeployParams, { root_pass?: string }> {
  const bmc = <T>(ctx: { serverId: number | null }, op: Parameters<typeof d.bmc.call<T>>[1]) => d.bmc.call(ctx.serverId!, op);
  return {
    kind: 'deploy',
    mutating: true,
    async run(ctx) {
      const p = ctx.params;
      const serverId = ctx.serverId!;
      d.servers.setStatus(serverId, 'deploying');
      try {
        if (p.imitate) {
          for (const step of ['arm netboot', 'boot device pxe', 'power on or reset', 'wait for installer callback', 'disarm netboot', 'boot device disk']) {
            await ctx.step(`${step} (imitated)`, async () => {
              await sleep(50, undefined, { signal: ctx.signal });
              if (p.imitate === 'error' && step === 'wait for installer callback') {
                throw new RackhandError('BOOT_ERROR', 'imitated deploy error (imitate_error=1)');
              }
            });
          }
          return { imitated: true, os_id: p.os_id ?? p.os_name };
        }
        const nb = await ctx.step(`arm netboot (${p.purpose})`, () =>
          d.netboot.arm(serverId, {
            purpose: p.purpose,
            osId: p.os_id,
            osName: p.os_name,
            params: { ...p.install, uefi: p.uefi, root_pass: ctx.secrets.root_pass },
            taskId: ctx.taskId,
          }),
        );
        const mode = p.uefi ? 'uefi' : 'legacy';
        // Right before the power-on that depends on it: boot flags expire, and a BMC may have lost them.
        await ctx.step(`boot device pxe (${mode}, next boot)`, () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'pxe', mode, persistent: false }, { signal: ctx.signal })));
        await ctx.step('power on or reset into the network boot', () => powerOnOrReset(d, ctx));
        await ctx.step('wait for installer callback', () => d.netboot.waitForCallback(serverId, ctx.signal, d.installTimeoutMs));
        await ctx.step('disarm netboot', () => d.netboot.disarm(serverId));
        await ctx.step(`boot device disk (${mode}, persistent)`, () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'disk', mode, persistent: true }, { signal: ctx.signal })));
        // The callback is the installer's last request, not its last act: let it unmount and sync first.
        if (d.rebootGraceMs > 0) await ctx.step(`grace for the installer to finish (${Math.round(d.rebootGraceMs / 1000)} s)`, () => sleep(d.rebootGraceMs, undefined, { signal: ctx.signal }));
        await ctx.step('reboot into the installed system', () => rebootAfterInstall(d, ctx));
        if (p.post_install_callback) await notifyPostInstall(ctx, p.post_install_callback, serverId, nb.osId);
        return { os_id: nb.osId, purpose: p.purpose };
      } catch (e) {
        // Whatever failed — or a cancel — the host must not be left PXE-looping. These run even after an abort,
        // so they bypass ctx.step (which refuses to start once the task is aborted) and journal as notes.
        const cleanup = async (name: string, fn: () => Promise<unknown> | unknown) => {
          try {
            await fn();
            ctx.note(`cleanup: ${name}`, 'done');
          } catch (err) {
            ctx.note(`cleanup: ${name}`, `failed: ${(err as Error).message}`);
          }
        };
        await cleanup('disarm netboot', () => d.netboot.disarm(serverId));
        if (!p.imitate) {
          // No signal: this must run even when the task was cancelled.
          await cleanup('boot device disk', () =>
            bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'disk', mode: p.uefi ? 'uefi' : 'legacy', persistent: true })),
          );
        }
        throw e;
      } finally {
        d.servers.setStatus(serverId, p.previous_status);
      }
    },
    settleInterrupted(task: TaskRecord, log: Logger) {
      if (task.serverId === null) return;
      d.netboot.disarm(task.serverId);
      d.servers.setStatus(task.serverId, (task.params as unknown as DeployParams).previous_status ?? 'free');
      log.warn({ server: task.serverId, task: task.id }, 'interrupted deploy: netboot disarmed; check the boot device before the next boot');
    },
  };
}

/**
 * Reset (or power on) into the installed system. The installer's callback is not its very last act: it may
 * still power the host off (or reboot it) after calling back, racing the reset — a reset the BMC carries out
 * late, or ignores because the host is already off. So the power is watched for a settle period after the
 * reset, and a host that goes off in it is powered on; otherwise the deploy would report success for a host
 * left off.
 */
async function rebootAfterInstall(d: NetbootWorkflowDeps, ctx: WorkflowContext<unknown, unknown>): Promise<'on' | 'reset' | 'reset, then on'> {
  const first = await powerOnOrReset(d, ctx);
  const settleUntil = Date.now() + Math.max(5_000, 10 * d.timing.powerPollMs);
  while (Date.now() < settleUntil) {
    await sleep(d.timing.powerPollMs, undefined, { signal: ctx.signal });
    if ((await readPower(d, ctx)) === 'off') {
      await d.bmc.call(ctx.serverId!, (drv, t) => drv.power(t, 'on', { signal: ctx.signal }));
      await confirmPower(d, ctx, 'on', d.timing.powerTimeoutMs);
      return 'reset, then on';
    }
  }
  return first;
}

/** The seed's post_install_callback: told once the install is done; its failure is noted, not fatal. */
async function notifyPostInstall(
  ctx: { step<T>(n: string, f: () => Promise<T>): Promise<T>; note(n: string, m: string): void; signal: AbortSignal },
  url: string,
  serverId: number,
  osId: string,
): Promise<void> {
  try {
    await ctx.step('post_install_callback', async () => {
      const u = new URL(url);
      u.searchParams.set('server_id', String(serverId));
      u.searchParams.set('os_id', osId);
      u.searchParams.set('status', 'ok');
      const res = await fetch(u, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(10_000)]) });
      if (!res.ok) throw new RackhandError('BOOT_ERROR', `post_install_callback answered HTTP ${res.status}`);
    });
  } catch (e) {
    ctx.note('post_install_callback', `not delivered: ${(e as Error).message}`);
  }
}

export function netbootWorkflows(d: NetbootWorkflowDeps): Workflow<any, any>[] {
  return [createPxeWorkflow(d), clearPxeWorkflow(d), deployWorkflow(d)];
}
