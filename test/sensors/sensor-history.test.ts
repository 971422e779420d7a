// Sensor history: the repository on a real (in-memory) SQLite store, the sampler with a fake reader, the route.
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { SensorHistoryRepo } from '../../src/store/repos/sensor-history-repo.js';
import { SensorSampler } from '../../src/bmc/sensor-sampler.js';
import type { SensorReading } from '../../src/bmc/bmc-driver.js';
import { SensorHistory } from '../../src/core/history.js';
import { v1Face } from '../../src/api/v1/v1-face.js';
import { serveFaces } from '../harness/face-server.js';

const dbs: Db[] = [];
afterEach(() => {
  while (dbs.length) dbs.pop()!.close();
});

function setup(ids = [1, 2, 3]) {
  const db = openDatabase(':memory:', MIGRATIONS);
  dbs.push(db);
  new ServersRepo(db, SecretBox.fromKey(Buffer.alloc(32, 1))).upsertMany(
    ids.map((id) => ({ id, name: `s${id}`, status: 'free', type: 'Server', location: '', datacenter: '', rack: '', configuration: '', preset: '', tags: [], groups: [], hardware: [], interfaces: [] })),
  );
  return { db, repo: new SensorHistoryRepo(db), servers: new ServersRepo(db, SecretBox.fromKey(Buffer.alloc(32, 1))) };
}

const reading = (name: string, type: string, value: number | null, status: SensorReading['status'] = 'ok'): SensorReading => ({
  name,
  type,
  value,
  unit: type === 'temperature' ? 'degrees C' : type === 'fan' ? 'RPM' : 'Volts',
  status,
  thresholds: { upperCritical: 90 },
});

describe('SensorHistoryRepo', () => {
  it('stores a batch and returns it per sensor within the window, oldest first', () => {
    const { repo } = setup();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 10; i++) {
      repo.append(1, [reading('CPU1 Temp', 'temperature', 40 + i), reading('FAN1', 'fan', 5000 - i * 10), reading('12V', 'voltage', null, 'unavailable')], new Date(t0 + i * 60_000));
    }
    repo.append(2, [reading('CPU1 Temp', 'temperature', 99, 'critical')], new Date(t0));
    const h = repo.history(1, { from: new Date(t0 + 2 * 60_000), to: new Date(t0 + 5 * 60_000) });
    expect(h.map((s) => s.name)).toEqual(['12V', 'CPU1 Temp', 'FAN1']);
    const cpu = h.find((s) => s.name === 'CPU1 Temp')!;
    expect(cpu).toMatchObject({ type: 'temperature', unit: 'degrees C' });
    expect(cpu.points.map((p) => p.value)).toEqual([42, 43, 44, 45]);
    expect(cpu.points[0].at).toBe('2026-01-01T00:02:00.000Z');
    expect(h.find((s) => s.name === '12V')!.points.every((p) => p.value === null && p.status === 'unavailable')).toBe(true);
    expect(repo.history(3, { from: new Date(0) })).toEqual([]);
  });

  it('thins long series evenly and keeps the first and last point', () => {
    const { repo } = setup();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 1000; i++) repo.append(1, [reading('T', 'temperature', i)], new Date(t0 + i * 1000));
    const [s] = repo.history(1, { from: new Date(t0), to: new Date(t0 + 2_000_000), maxPoints: 50 });
    expect(s.points).toHaveLength(50);
    expect(s.points[0].value).toBe(0);
    expect(s.points[49].value).toBe(999);
    const values = s.points.map((p) => p.value as number);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
  });

  it('latest() gives only each server newest sample; prune() drops old rows', () => {
    const { repo } = setup();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    repo.append(1, [reading('T', 'temperature', 30), reading('F', 'fan', 3000)], new Date(t0));
    repo.append(1, [reading('T', 'temperature', 31), reading('F', 'fan', 3100)], new Date(t0 + 60_000));
    repo.append(2, [reading('T', 'temperature', 50)], new Date(t0 + 30_000));
    const newest = [
      [1, 'F', 3100],
      [1, 'T', 31],
      [2, 'T', 50],
    ];
    expect([...repo.latest()].map((l) => [l.serverId, l.name, l.value])).toEqual(newest);
    // a page of one server at a time: the same rows, none twice
    expect([...repo.latest(1)].map((l) => [l.serverId, l.name, l.value])).toEqual(newest);
    expect(repo.prune(new Date(t0 + 45_000))).toBe(3);
    expect(repo.count()).toBe(2);
    expect(repo.count(2)).toBe(0);
  });

  it('rows go with their server (foreign key cascade) and non-finite values are stored as null', () => {
    const { db, repo } = setup();
    repo.append(3, [reading('T', 'temperature', Number.NaN)]);
    expect(repo.history(3, { from: new Date(0) })[0].points[0].value).toBeNull();
    db.prepare('DELETE FROM servers WHERE id = 3').run();
    expect(repo.count(3)).toBe(0);
    expect(() => repo.append(77, [reading('T', 'temperature', 1)])).toThrow(/FOREIGN KEY/);
  });
});

describe('SensorSampler', () => {
  it('samples every server, skips a failing BMC, stores what it read and prunes by retention', async () => {
    const { repo } = setup();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const calls: number[] = [];
    const sampler = new SensorSampler(
      {
        history: repo,
        serverIds: () => [1, 2, 3],
        readSensors: async (id) => {
          calls.push(id);
          if (id === 2) throw new RackhandError('BMC_TIMEOUT', 'no answer');
          return [reading('T', 'temperature', id * 10), reading('F', 'fan', 1000)];
        },
        now: () => new Date(now),
      },
      { retentionMs: 90_000, concurrency: 2 },
    );
    expect(await sampler.sampleOnce()).toEqual({ servers: 3, read: 2, failed: 1, stored: 4, pruned: 0 });
    expect(calls.sort()).toEqual([1, 2, 3]);
    now += 60_000;
    await sampler.sampleOnce();
    now += 60_000;
    // the first pass is now 120 s old, beyond the 90 s retention
    expect((await sampler.sampleOnce()).pruned).toBe(4);
    expect(repo.count(1)).toBe(4);
    expect(repo.count(2)).toBe(0);
  });

  it('never runs more reads at once than its concurrency', async () => {
    const { repo } = setup([1, 2, 3]);
    let inFlight = 0;
    let peak = 0;
    const sampler = new SensorSampler(
      {
        history: repo,
        serverIds: () => [1, 2, 3, 1, 2, 3, 1, 2, 3],
        readSensors: async () => {
          peak = Math.max(peak, ++inFlight);
          await new Promise((r) => setTimeout(r, 5));
          inFlight--;
          return [reading('T', 'temperature', 1)];
        },
      },
      { concurrency: 3 },
    );
    const r = await sampler.sampleOnce();
    expect(r.read).toBe(9);
    expect(peak).toBe(3);
  });

  it('start() runs passes on its own and stop() ends them', async () => {
    const { repo } = setup([1]);
    const sampler = new SensorSampler(
      { history: repo, serverIds: () => [1], readSensors: async () => [reading('T', 'temperature', 1)] },
      { intervalMs: 20, jitter: 0.5 },
    );
    sampler.start();
    const deadline = Date.now() + 10_000;
    while (sampler.passCount < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await sampler.stop();
    const passes = sampler.passCount;
    expect(passes).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(sampler.passCount).toBe(passes);
  });

  it('is off when disabled', async () => {
    const { repo } = setup([1]);
    const sampler = new SensorSampler({ history: repo, serverIds: () => [1], readSensors: async () => [] }, { enabled: false, intervalMs: 1 });
    sampler.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(sampler.passCount).toBe(0);
  });
});

describe('GET /api/v1/servers/:id/sensors/history', () => {
  it('answers the window per sensor, checks visibility and validates hours', async () => {
    const { repo, servers } = setup([1]);
    const now = Date.now();
    repo.append(1, [reading('T', 'temperature', 41)], new Date(now - 2 * 3600_000));
    repo.append(1, [reading('T', 'temperature', 42)], new Date(now - 30 * 60_000));
    const principal = { tokenId: 1, name: 't', role: 'tech' as const, ownerId: null };
    const app = await serveFaces([v1Face], { core: { history: new SensorHistory(servers, repo) }, principal });
    const get = (path: string) => app.request(path);
    const one = await get('/api/v1/servers/1/sensors/history?hours=1');
    expect(one.status).toBe(200);
    expect(one.json.sensors[0].points.map((p: { value: number }) => p.value)).toEqual([42]);
    const day = await get('/api/v1/servers/1/sensors/history');
    expect(day.json.sensors[0].points).toHaveLength(2);
    expect((await get('/api/v1/servers/2/sensors/history')).status).toBe(404);
    const bad = await get('/api/v1/servers/1/sensors/history?hours=0');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INVALID_INPUT');
    expect((await get('/api/v1/servers/1/sensors/history?hours=99999')).status).toBe(400);
    await app.close();
  });
});
