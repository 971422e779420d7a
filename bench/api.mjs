#!/usr/bin/env node
// bench/api: eq show / status under concurrent load with 10,000 servers in the store (autocannon).
// Runs the real daemon from dist/ (npm run build first) with its background loops on (power sync and sensor
// sampling of the 10,000 simulated BMCs). Prints p50/p99 latency and throughput, at a fixed 500 req/s (the
// target: p99 < 20 ms) and flat out.
import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin/rackhand.js');
const stateDir = mkdtempSync(path.join(tmpdir(), 'rackhand-bench-api-'));
const env = { ...process.env, RACKHAND_STATE_DIR: stateDir, RACKHAND_HTTP_LISTEN: '127.0.0.1:0', RACKHAND_LOG_LEVEL: 'warn' };
const N = Number(process.env.BENCH_SERVERS ?? 10_000);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);

const token = spawnSync(process.execPath, [bin, 'token', 'create', '--role', 'central'], { env, encoding: 'utf8' }).stdout.trim();
const daemon = spawn(process.execPath, [bin, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
const url = await new Promise((resolve, reject) => {
  let err = '';
  daemon.stderr.on('data', (b) => {
    err += b;
    const m = /listening on (http:\/\/\S+)/.exec(err);
    if (m) resolve(m[1]);
  });
  daemon.once('exit', () => reject(new Error(err)));
});

try {
  const servers = Array.from({ length: N }, (_, k) => {
    const id = k + 1;
    const h = id.toString(16).padStart(6, '0');
    return {
      id,
      name: `srv-${id}`,
      location: 'AMS1',
      rack: `R${id % 200}`,
      configuration: 'E-2236-32Gb',
      groups: [{ id: 1, name: 'web' }],
      hardware: [{ Type: 'CPU', Name: 'Xeon', Cores: 6 }],
      interfaces: [{ name: 'eth0', mac: `52:54:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4)}`, ip: `10.${id >> 16}.${(id >> 8) & 255}.${id & 255}` }],
      bmc: { driver: 'simulated', host: `10.99.${(id >> 8) & 255}.${id & 255}`, username: 'ADMIN', password: 'bench-pass' },
    };
  });
  const t0 = performance.now();
  const imp = await fetch(`${url}/api/v1/servers/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(servers),
  });
  if (!imp.ok) throw new Error(`import failed: ${imp.status} ${await imp.text()}`);
  console.log(`imported ${N} servers in ${((performance.now() - t0) / 1000).toFixed(2)} s`);

  const run = (title, opts) =>
    new Promise((resolve, reject) => {
      autocannon(
        {
          url,
          duration: DURATION,
          connections: 20,
          requests: [
            {
              setupRequest: (req) => {
                const id = 1 + Math.floor(Math.random() * N);
                const action = Math.random() < 0.5 ? 'show' : 'status';
                return { ...req, method: 'GET', path: `/api/eq?action=${action}&id=${id}&token=${token}` };
              },
            },
          ],
          ...opts,
        },
        (err, r) => (err ? reject(err) : resolve({ title, r })),
      );
    });
  // Untimed warm-up: the JIT and the heap settle after the import, as in a daemon that has been up a while.
  await run('warm-up', { duration: 3 });
  for (const { title, r } of [await run('fixed 500 req/s', { overallRate: 500 }), await run('flat out', {})]) {
    const bad = r.non2xx + r.errors + r.timeouts;
    console.log(
      `${title.padEnd(16)} requests ${r.requests.total}  ${r.requests.average.toFixed(0)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  max ${r.latency.max} ms  errors ${bad}`,
    );
  }
  console.log('target: p99 < 20 ms at 500 req/s on a 2-core machine');
} finally {
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  rmSync(stateDir, { recursive: true, force: true });
}
