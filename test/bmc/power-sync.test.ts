// The power sync loop: a pass records each BMC's power (or unreachable), and stop() ends a pass stuck on hung
// BMCs at once by aborting its driver calls.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BmcDrivers } from '../../src/bmc/bmc-drivers.js';
import { BmcScheduler, DEFAULT_BMC_SCHEDULER_OPTIONS } from '../../src/bmc/bmc-scheduler.js';
import { configSchema } from '../../src/config.js';
import { PowerSync } from '../../src/bmc/power-sync.js';
import { SimulatedDriver } from '../../src/bmc/simulated/simulated-driver.js';
import { openDatabase } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';

let close: (() => void) | undefined;
afterEach(() => close?.());

function setup(n: number, concurrency = 4) {
  const db = openDatabase(':memory:', MIGRATIONS);
  close = () => db.close();
  const servers = new ServersRepo(db, SecretBox.fromKey(Buffer.alloc(32, 1)));
  servers.upsertMany(Array.from({ length: n }, (_, i) => ({
    id: i + 1, name: `s${i + 1}`, status: 'free', type: 'Server', location: '', datacenter: '', rack: '', configuration: '', preset: '',
    tags: [], groups: [], hardware: [], interfaces: [], bmc: { driver: 'simulated', host: `10.7.0.${i + 1}`, port: 623, username: 'admin', password: 'pw' },
  })));
  const simulated = new SimulatedDriver({ delayMs: 1, initialPower: 'on' });
  const scheduler = new BmcScheduler({ operationTimeoutMs: 600_000, minSpacingMs: 0 });
  const bmc = new BmcDrivers([scheduler.wrap(simulated)], servers);
  const sync = new PowerSync(servers, bmc, { enabled: true, intervalMs: 60_000, jitter: 0, concurrency }, pino({ level: 'silent' }));
  return { servers, simulated, sync, bmc };
}

describe('PowerSync', () => {
  it('a pass records power, and an unreachable BMC as unreachable', async () => {
    const { simulated, sync } = setup(3);
    simulated.injectFault('10.7.0.2:623', { kind: 'unreachable' });
    expect(await sync.syncOnce()).toEqual({ read: 2, unreachable: 1 });
  });

  it('a pass over many BMCs warns of no listener leak (one abort listener per read in flight on the pass signal)', async () => {
    const { sync } = setup(40, 32);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      expect(await sync.syncOnce()).toEqual({ read: 40, unreachable: 0 });
      await new Promise((r) => setImmediate(r)); // warnings are emitted on a later tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
  });

  it('a pass over more BMCs than one store batch (256) stores every read, none lost to a batch written meanwhile', async () => {
    const { sync, servers } = setup(700, 64);
    expect(await sync.syncOnce()).toEqual({ read: 700, unreachable: 0 });
    const unread = servers.idsWithBmc().filter((id) => servers.get(id)?.power.state !== 'on');
    expect(unread).toEqual([]);
  });

  it('stop() ends a pass stuck on hung BMCs: their calls are aborted, none is left hanging', async () => {
    const { simulated, sync } = setup(6);
    simulated.injectFault('*', { kind: 'hang' });
    const pass = sync.syncOnce();
    for (let i = 0; i < 500 && simulated.hangingCalls < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(simulated.hangingCalls).toBe(4); // the pass's concurrency
    await sync.stop();
    await pass;
    expect(simulated.hangingCalls).toBe(0);
  });

  it("with the default settings a sweep leaves the scheduler room: an operator's call starts while every read of the sweep hangs", async () => {
    const defaults = configSchema.parse({}).bmc.sync.concurrency;
    expect(defaults).toBeLessThan(DEFAULT_BMC_SCHEDULER_OPTIONS.maxParallel);
    const n = DEFAULT_BMC_SCHEDULER_OPTIONS.maxParallel + 10; // more BMCs than the scheduler runs at once
    const { simulated, sync, bmc } = setup(n, defaults);
    simulated.injectFault('*', { kind: 'hang' });
    const pass = sync.syncOnce();
    const ac = new AbortController();
    const operator = bmc.call(n, (d, t) => d.powerStatus(t, { signal: ac.signal })).catch(() => 'aborted');
    for (let i = 0; i < 500 && simulated.hangingCalls < defaults + 1; i++) await new Promise((r) => setTimeout(r, 10));
    // The sweep's lanes and the operator's call are all at their BMCs (with 64 lanes, the call waited for a slot).
    expect(simulated.hangingCalls).toBe(defaults + 1);
    ac.abort();
    await sync.stop();
    await pass;
    expect(await operator).toBe('aborted');
  });
});
