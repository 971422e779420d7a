// Cancelling a task reaches the BMC driver: the task's signal goes through BmcDrivers and the scheduler into the
// driver call, which stops (here a simulated BMC that hangs; the scheduler's own timeout is far away).
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BmcDrivers } from '../../src/bmc/bmc-drivers.js';
import { BmcScheduler } from '../../src/bmc/bmc-scheduler.js';
import type { BmcTarget } from '../../src/bmc/bmc-driver.js';
import { SimulatedDriver } from '../../src/bmc/simulated/simulated-driver.js';
import { openDatabase } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { TasksRepo } from '../../src/store/repos/tasks-repo.js';
import { TaskRunner } from '../../src/tasks/task-runner.js';
import { bmcWorkflows } from '../../src/tasks/workflows/bmc-workflows.js';

const target: BmcTarget = { host: '10.9.0.1', port: 623, username: 'admin', password: 'pw', cipherSuite: 3, privilege: 'administrator' };

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

function setup() {
  const db = openDatabase(':memory:', MIGRATIONS);
  const servers = new ServersRepo(db, SecretBox.fromKey(Buffer.alloc(32, 1)));
  servers.upsertMany([{ id: 1, name: 's1', status: 'free', type: 'Server', location: '', datacenter: '', rack: '', configuration: '', preset: '', tags: [], groups: [], hardware: [], interfaces: [] }]);
  const simulated = new SimulatedDriver({ delayMs: 1 });
  const scheduler = new BmcScheduler({ operationTimeoutMs: 600_000, minSpacingMs: 0 });
  const bmc = new BmcDrivers([scheduler.wrap(simulated)], { bmcTarget: () => ({ ...target, driver: 'simulated' }) });
  const runner = new TaskRunner(new TasksRepo(db), pino({ level: 'silent' }));
  for (const wf of bmcWorkflows({ bmc, servers, timing: { powerPollMs: 10, powerTimeoutMs: 1000, softOffTimeoutMs: 1000, bmcResetTimeoutMs: 1000 } })) runner.register(wf);
  stop = async () => {
    await bmc.close();
    db.close();
  };
  return { simulated, runner };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe('task cancellation reaches the driver', () => {
  it.each([
    ['sensors', {}],
    ['power', { action: 'off' }],
    ['boot_device', { device: 'pxe', mode: 'uefi', persistent: false }],
  ] as const)('%s: the hanging driver call ends when the task is cancelled', async (kind, params) => {
    const { simulated, runner } = setup();
    simulated.injectFault('10.9.0.1:623', { kind: 'hang' });
    const task = runner.submit(kind, { serverId: 1, params: params as Record<string, unknown>, requestedBy: 'test' });
    await until(() => simulated.hangingCalls === 1);
    runner.cancel(task.id);
    const done = await runner.wait(task.id);
    expect(simulated.hangingCalls).toBe(0);
    expect(done.state).toBe('cancelled');
    expect(done.error?.code).toBe('TASK_CANCELLED');
  });
});
