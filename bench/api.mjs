#!/usr/bin/env node
// bench/api: the API at site scale, through the real daemon (dist/; npm run build first). With BENCH_SERVERS
// (default 50,000) servers on simulated BMCs it prints: the bulk import time, the start-up time on that store, the
// daemon's RSS, and p50/p99 of eq show/status at a fixed 500 req/s, of eq list and DCImanager /server pages — all
// while the power sync and the sensor sampling run over every BMC without pause (the BMC reads done during each
// window are printed, so a quiet loop cannot pass for a busy one). Goals (issue 16): p99 < 20 ms, RSS < 400 MiB,
// start < 5 s. An absolute-goal bench: no anchor. Tests never assert times; this prints them.
//   node bench/api.mjs [--servers N] [--seconds S] [--page-rate R] [--json]  (--json: the summary line `npm run bench` reads)
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { printSummary } from './bench-summary.mjs';
import { paced } from './paced-load.mjs';

const { values: args } = parseArgs({
  options: {
    servers: { type: 'string', default: process.env.BENCH_SERVERS ?? '50000' },
    seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '15' },
    'page-rate': { type: 'string', default: '50' },
    // off: no power sync or sensor sampling (to see what the loops cost)
    loops: { type: 'string', default: 'on' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(args.servers);
const DURATION = Number(args.seconds);
const PAGE_RATE = Number(args['page-rate']);
const LOOPS = args.loops !== 'off';
const GOALS = { p99Ms: 20, rssMiB: 400, startS: 5 };

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin/rackhand.js');
const stateDir = mkdtempSync(path.join(tmpdir(), 'rackhand-bench-api-'));
const configFile = path.join(stateDir, 'bench.json');
// Both site-wide loops never idle: the next sync pass starts 1 s after the last (a pass over 50,000 simulated
// BMCs takes ~40 s), sensor passes every 10 s (one pass takes minutes). The simulated BMCs answer after 50 ms,
// like a LAN BMC; they live in the daemon's heap, so its RSS includes them.
writeFileSync(
  configFile,
  JSON.stringify({
    bmc: { allowSimulated: true, simulatedDelayMs: 50, sync: { enabled: LOOPS, intervalMs: 1_000 } },
    sensors: { enabled: LOOPS, intervalMs: 10_000 },
  }),
);
const env = { ...process.env, RACKHAND_STATE_DIR: stateDir, RACKHAND_HTTP_LISTEN: '127.0.0.1:0', RACKHAND_LOG_LEVEL: 'warn', RACKHAND_CONFIG: configFile };

/** A central token, made with the CLI on the state dir (safe beside the running daemon). */
function createToken() {
  const r = spawnSync(process.execPath, [bin, 'token', 'create', '--role', 'central'], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`token create failed (npm run build first?): ${r.stderr}`);
  return r.stdout.trim();
}

/** Start the daemon; resolves with its URL, the child, and how long it took to listen and to be ready. */
async function startDaemon() {
  const t0 = performance.now();
  // BENCH_DAEMON_FLAGS: node flags for the daemon only (e.g. --trace-gc, --cpu-prof), its stdout to BENCH_DAEMON_OUT.
  const flags = (process.env.BENCH_DAEMON_FLAGS ?? '').split(' ').filter(Boolean);
  const out = process.env.BENCH_DAEMON_OUT ? openSync(process.env.BENCH_DAEMON_OUT, 'a') : 'ignore';
  const child = spawn(process.execPath, [...flags, bin, 'serve'], { env, stdio: ['ignore', out, 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (b) => {
      err += b;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`rackhand exited with ${code}: ${err}`)));
  });
  const listenS = (performance.now() - t0) / 1000;
  while ((await fetch(`${url}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 20));
  return { child, url, listenS, readyS: (performance.now() - t0) / 1000 };
}

async function stopDaemon(child) {
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
}

function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)[1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/**
 * What the two loops did between two instants, read from the daemon's store by this process (a read-only WAL
 * reader, so the daemon is not asked — a /metrics scrape at this size is itself a long task, timed apart).
 */
function loopWork(db, fromMs, toMs) {
  const power = db.prepare('SELECT count(*) AS n FROM servers WHERE power_read_at BETWEEN ? AND ?').get(new Date(fromMs).toISOString(), new Date(toMs).toISOString()).n;
  const sensors = db.prepare('SELECT count(DISTINCT server_id) AS n FROM sensor_readings WHERE at BETWEEN ? AND ?').get(fromMs, toMs).n;
  return { power, sensors };
}

function makeServers(n) {
  return Array.from({ length: n }, (_, k) => {
    const id = k + 1;
    const h = id.toString(16).padStart(6, '0');
    return {
      id,
      name: `srv-${id}`,
      status: id % 10 === 0 ? 'rent' : 'free',
      location: 'AMS1',
      datacenter: 'Amsterdam 1',
      rack: `R${id % 200}`,
      rack_position: id % 40,
      configuration: id % 3 ? 'E-2236-32Gb-2x480SSD' : 'i9-9900K-64Gb-2x1024NVMe',
      preset: id % 3 ? 'e2236' : 'i9',
      os: { id: 10, name: 'Ubuntu 24.04' },
      tags: [{ tag: 'preset', value: id % 3 ? 'e2236' : 'i9' }],
      groups: [{ id: 1, name: 'web' }],
      hardware: [{ Type: 'CPU', Name: 'Xeon E-2236', Cores: 6 }, { Type: 'RAM', Name: 'DDR4', Size: 32 }],
      interfaces: [{ name: 'eth0', mac: `52:54:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4)}`, ip: `10.${id >> 16}.${(id >> 8) & 255}.${id & 255}`, switch: `sw-${id % 200}`, switch_port: `Gi1/0/${id % 48}` }],
      bmc: { driver: 'simulated', host: `10.99.${(id >> 8) & 255}.${id & 255}`, username: 'ADMIN', password: 'bench-pass', model: 'Supermicro X11' },
    };
  });
}

/** autocannon flat out over requests made by `pick`: throughput. */
function load(url, title, pick, opts) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, duration: DURATION, connections: 20, requests: [{ setupRequest: (req) => ({ ...req, ...pick() }) }], ...opts },
      (err, r) => (err ? reject(err) : resolve({ title, r })),
    );
  });
}

const rnd = (n) => 1 + Math.floor(Math.random() * n);
let token = '';

const say = (s) => console.log(s);

let daemon;
// The machine is shared: its load before and after is part of the result.
say(`machine     load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (1/5/15 min), ${N} servers, ${DURATION} s windows`);
try {
  // ---- import, into a running daemon
  daemon = await startDaemon();
  token = createToken();
  const auth = { authorization: `Bearer ${token}` };
  const servers = makeServers(N);
  const body = JSON.stringify(servers);
  const t0 = performance.now();
  const imp = await fetch(`${daemon.url}/api/v1/servers/import`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
  if (!imp.ok) throw new Error(`import failed: ${imp.status} ${await imp.text()}`);
  const importS = (performance.now() - t0) / 1000;
  say(`import      ${N} servers (${(body.length / 2 ** 20).toFixed(1)} MiB JSON, one call): ${importS.toFixed(2)} s`);
  await stopDaemon(daemon.child);

  // ---- start-up on a store of N servers
  daemon = await startDaemon();
  say(`start       listening after ${daemon.listenS.toFixed(2)} s, ready after ${daemon.readyS.toFixed(2)} s (goal < ${GOALS.startS} s)`);
  const idle = rssMiB(daemon.child.pid);
  say(`RSS         at start: ${idle.rss.toFixed(0)} MiB`);

  // ---- both loops running before anything is measured
  const store = new Database(path.join(stateDir, 'rackhand.db'), { readonly: true });
  const t1 = Date.now();
  for (; LOOPS; ) {
    const r = loopWork(store, t1, Date.now());
    if (r.power > 0 && r.sensors > 0) break;
    if (Date.now() - t1 > 120_000) throw new Error(`the loops did not start: ${JSON.stringify(r)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(daemon.child.pid).rss)), 500);

  const show = () => ({ method: 'GET', path: `/api/eq?action=${Math.random() < 0.5 ? 'show' : 'status'}&id=${rnd(N)}&token=${token}` });
  const eqList = () => ({ method: 'GET', path: `/api/eq?action=list&offset=${rnd(N) - 1}&token=${token}` });
  const dciPage = () => ({ method: 'GET', path: `/api/dci/v3/server?offset=${rnd(N) - 1}`, headers: { cookie: `ses6=${token}` } });

  // Untimed warm-up: the JIT and the heap settle, as in a daemon that has been up a while.
  await load(daemon.url, 'warm-up', show, { duration: 3 });
  const runs = [
    ['eq show/status, 500 req/s', show, 500],
    [`eq list page (100), ${PAGE_RATE} req/s`, eqList, PAGE_RATE],
    [`DCImanager /server page (100), ${PAGE_RATE} req/s`, dciPage, PAGE_RATE],
  ];
  const results = [];
  const fmt = (ms) => (ms < 10 ? ms.toFixed(1) : ms.toFixed(0));
  const meanwhile = (from) => {
    const w = loopWork(store, from, Date.now());
    return `  | loops meanwhile: ${w.power} power reads, ${w.sensors} servers' sensors sampled`;
  };
  for (const [title, pick, rate] of runs) {
    const from = Date.now();
    const r = await paced(daemon.url, rate, DURATION, pick);
    results.push({ title, p99: r.p99 });
    say(
      `${title.padEnd(44)} ${String(r.requests).padStart(6)} req  ${r.rate.toFixed(0).padStart(5)} req/s  p50 ${fmt(r.p50)} ms  p99 ${fmt(r.p99)} ms  max ${fmt(r.max)} ms  errors ${r.errors}` +
        meanwhile(from),
    );
  }
  {
    const from = Date.now();
    const { r } = await load(daemon.url, 'flat out', show, {});
    say(
      `${'eq show/status, flat out (autocannon, 20 conn)'.padEnd(44)} ${String(r.requests.total).padStart(6)} req  ${r.requests.average.toFixed(0).padStart(5)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  max ${r.latency.max} ms  errors ${r.non2xx + r.errors + r.timeouts}` +
        meanwhile(from),
    );
  }
  store.close();
  clearInterval(rssTimer);
  const end = rssMiB(daemon.child.pid);
  say(`RSS         under load: peak sampled ${peakRss.toFixed(0)} MiB, now ${end.rss.toFixed(0)} MiB, process high-water ${end.peak.toFixed(0)} MiB (goal < ${GOALS.rssMiB} MiB; includes the in-process simulated BMCs)`);
  // Prometheus scrapes every 15-60 s: while one is answered, /healthz is asked back to back; its slowest answer is how
  // long a scrape holds the API up. The first scrape reads the host's health too (cached 5 s), the next two not.
  const scrapes = [];
  for (let k = 0; k < 3; k++) {
    let scraping = true;
    let worst = 0;
    const probe = (async () => {
      while (scraping) {
        const t = performance.now();
        await (await fetch(`${daemon.url}/healthz`)).text();
        worst = Math.max(worst, performance.now() - t);
      }
    })();
    const t = performance.now();
    const text = await (await fetch(`${daemon.url}/metrics`)).text();
    const ms = performance.now() - t;
    scraping = false;
    await probe;
    scrapes.push({ ms, worst, mib: text.length / 2 ** 20 });
  }
  say(`/metrics    3 scrapes after the runs: ${scrapes.map((x) => `${x.ms.toFixed(0)} ms`).join(', ')} (${scrapes[0].mib.toFixed(1)} MiB); the API meanwhile: slowest /healthz ${scrapes.map((x) => `${x.worst.toFixed(0)} ms`).join(', ')}`);
  say(`machine     load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} after the runs`);
  const fixed = results[0];
  say(
    `goals: start ${daemon.readyS < GOALS.startS ? 'met' : 'MISSED'}, eq show/status p99 at 500 req/s ${fixed.p99 < GOALS.p99Ms ? 'met' : 'MISSED'}, ` +
      `pages p99 ${results[1].p99 < GOALS.p99Ms && results[2].p99 < GOALS.p99Ms ? 'under' : 'OVER'} ${GOALS.p99Ms} ms, RSS ${end.peak < GOALS.rssMiB ? 'met' : 'MISSED'}`,
  );
  if (args.json) {
    // No anchor: absolute goals, so `ratio` is empty.
    const row = (name, rackhand, goal, met) => ({ name, rackhand, tool: '', anchor: '', ratio: null, goal, met });
    printSummary('api', [
      row(`API ${N} servers: import (one call)`, `${importS.toFixed(2)} s`, '', null),
      row(`API ${N} servers: start-up until ready`, `${daemon.readyS.toFixed(2)} s`, `< ${GOALS.startS} s`, daemon.readyS < GOALS.startS),
      row(`API ${N} servers: daemon RSS high-water`, `${end.peak.toFixed(0)} MiB`, `< ${GOALS.rssMiB} MiB`, end.peak < GOALS.rssMiB),
      row(`API ${N} servers: API stall during a /metrics scrape`, `${fmt(Math.max(...scrapes.map((x) => x.worst)))} ms`, `< ${GOALS.p99Ms} ms`, Math.max(...scrapes.map((x) => x.worst)) < GOALS.p99Ms),
      ...results.map((r) => row(`API ${N} servers: ${r.title} p99, loops busy`, `${fmt(r.p99)} ms`, `< ${GOALS.p99Ms} ms`, r.p99 < GOALS.p99Ms)),
    ]);
  }
} finally {
  if (daemon) await stopDaemon(daemon.child);
  rmSync(stateDir, { recursive: true, force: true });
}
