// DiscoveredRepo on a real SQLite file: row cap, expiry, summed sightings, paged list.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { DiscoveredRepo } from '../../src/store/repos/discovered-repo.js';

const mac = (i: number) => `02:00:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

let dir: string;
let db: Db;
afterEach(() => {
  db?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function open(): Db {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `rh-discovered-${process.pid}-`));
  db = openDatabase(path.join(dir, 'rackhand.db'), MIGRATIONS);
  return db;
}

describe('DiscoveredRepo', () => {
  it('keeps at most maxRows, forgetting the least recently seen first', () => {
    let t = Date.parse('2025-01-01T00:00:00Z');
    const repo = new DiscoveredRepo(open(), { maxRows: 1000, now: () => t });
    for (let i = 0; i < 5000; i++) {
      t += 1000;
      repo.record({ mac: mac(i) });
    }
    const { total, list } = repo.list({ limit: 3 });
    expect(total).toBeLessThanOrEqual(1000);
    expect(total).toBeGreaterThanOrEqual(900);
    expect(list.map((r) => r.mac)).toEqual([mac(4999), mac(4998), mac(4997)]);
    expect(repo.get(mac(0))).toBeUndefined();
    expect((db.prepare('SELECT count(*) AS n FROM discovered').get() as { n: number }).n).toBe(total);
  });

  it('forgets a MAC not seen for maxAgeMs, and lists only live ones meanwhile', () => {
    let t = Date.parse('2025-01-01T00:00:00Z');
    const day = 86400_000;
    const repo = new DiscoveredRepo(open(), { maxAgeMs: 7 * day, now: () => t });
    repo.record({ mac: mac(1) });
    t += 3 * day;
    repo.record({ mac: mac(2) });
    t += 5 * day; // mac 1 is 8 days old, mac 2 five
    expect(repo.list().list.map((r) => r.mac)).toEqual([mac(2)]);
    expect(repo.get(mac(1))).toBeUndefined();
    repo.record({ mac: mac(3) }); // a write prunes (the last prune was over a minute ago)
    expect((db.prepare('SELECT mac FROM discovered ORDER BY mac').all() as { mac: string }[]).map((r) => r.mac)).toEqual([mac(2), mac(3)]);
  });

  it('adds summed sightings to the count and keeps the first-seen time', () => {
    let t = Date.parse('2025-01-01T00:00:00Z');
    const repo = new DiscoveredRepo(open(), { now: () => t });
    repo.record({ mac: mac(7), arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003000' });
    t += 10_000;
    repo.record({ mac: mac(7), seen: 4 });
    expect(repo.get(mac(7))).toMatchObject({
      arch: 7,
      vendorClass: 'PXEClient:Arch:00007:UNDI:003000',
      seenCount: 5,
      firstSeen: '2025-01-01T00:00:00.000Z',
      lastSeen: '2025-01-01T00:00:10.000Z',
    });
  });

  it('pages newest first with a total', () => {
    let t = Date.parse('2025-01-01T00:00:00Z');
    const repo = new DiscoveredRepo(open(), { now: () => t });
    for (let i = 0; i < 25; i++) {
      t += 1000;
      repo.record({ mac: mac(i) });
    }
    const pages = [0, 10, 20].map((offset) => repo.list({ limit: 10, offset }));
    expect(pages.map((p) => p.total)).toEqual([25, 25, 25]);
    expect(pages.map((p) => p.list.length)).toEqual([10, 10, 5]);
    expect(pages.flatMap((p) => p.list.map((r) => r.mac))).toEqual(Array.from({ length: 25 }, (_, i) => mac(24 - i)));
    expect(repo.remove(mac(3))).toBe(true);
    expect(repo.list({ limit: 1 }).total).toBe(24);
  });
});
