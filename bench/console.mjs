// Console proxy benchmark: rackhand's VncProxy vs websockify (the anchor) in the same run — 256 MiB each way,
// 2,000 small echoes (p50/p99), and proxy memory with 10 concurrent sessions. Prints numbers and ratios.
//
//   node bench/console.mjs [MiB=256] [rounds=2] [--baseline GIT_REV] [--no-bufferutil] [--json]
//
// The anchor is Debian's websockify (run by /usr/bin/python3, serving Debian's noVNC page as it does in the field);
// when it is missing the bench installs it with apt-get (needs root), as the test command installs its peers.
// --baseline also runs the proxy of another git revision (e.g. the hand-written websocket before `ws`) in the same
// rounds and prints rackhand's ratio to it; --no-bufferutil runs rackhand's ws without its native unmasking helper;
// --json ends with the summary line `npm run bench` reads (bench/bench-summary.mjs).
//
// Roles (internal): `--targets` runs the TCP load targets, `--proxy DIR PORTS_JSON` runs rackhand's proxy from
// the compiled console module in DIR. Targets greet with an RFB banner (the proxy insists on one), then:
// sink (8-byte BE length, then that many bytes, answers 'K'), source (8-byte BE length -> streams it), echo.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { printSummary } from './bench-summary.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Debian packages of the anchor: websockify (the proxy) and novnc (the page it serves, as deployed). */
const ANCHOR_PACKAGES = ['websockify', 'novnc'];
const PYTHON = '/usr/bin/python3';
const WEBSOCKIFY = '/usr/bin/websockify';
const NOVNC_DIR = '/usr/share/novnc';
const BANNER = Buffer.from('RFB 003.008\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------- role: load targets ----------
async function runTargets() {
  const readHeader = (sock, cb) => {
    let buf = Buffer.alloc(0);
    const on = (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 8) {
        sock.off('data', on);
        cb(Number(buf.readBigUInt64BE(0)), buf.length - 8);
      }
    };
    sock.on('data', on);
  };
  const listen = (handler) =>
    new Promise((r) => {
      const s = net.createServer((sock) => {
        sock.setNoDelay(true);
        sock.on('error', () => {});
        sock.write(BANNER);
        handler(sock);
      });
      s.listen(0, '127.0.0.1', () => r(s.address().port));
    });
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const sink = await listen((s) =>
    readHeader(s, (n, got) => {
      const check = () => {
        if (got >= n) {
          s.removeAllListeners('data');
          s.write('K');
        }
      };
      s.on('data', (d) => {
        got += d.length;
        check();
      });
      check();
    }),
  );
  const source = await listen((s) =>
    readHeader(s, (n) => {
      let left = n;
      const pump = () => {
        while (left > 0) {
          const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= c.length;
          if (!s.write(c)) return void s.once('drain', pump);
        }
      };
      pump();
    }),
  );
  const echo = await listen((s) => s.pipe(s));
  process.stdout.write(JSON.stringify({ sink, source, echo }) + '\n');
}

// ---------- role: rackhand proxy ----------
async function runProxy(dir, portsJson) {
  const ports = JSON.parse(portsJson);
  const { VncProxy } = await import(pathToFileURL(path.join(dir, 'console', 'vnc-proxy.js')).href);
  let n = 0;
  const used = new Set();
  const authority = {
    // Single-use like the real one; the ticket names its target: <sink|source|echo>_<random>.
    redeem(ticket) {
      if (used.has(ticket)) return null;
      used.add(ticket);
      const kind = ticket.split('_')[0];
      if (!(kind in ports)) return null;
      return { sessionId: `bench-${++n}`, serverId: n, target: { host: '127.0.0.1', port: ports[kind] } };
    },
  };
  const hwm = process.env.BENCH_HWM ? Number(process.env.BENCH_HWM) : undefined;
  const proxy = new VncProxy({ authority, maxConnectionsPerServer: 100, maxConnectionsTotal: 1000, maxPayload: 4 * 1024 * 1024, highWaterMark: hwm });
  const server = http.createServer((_q, r) => r.writeHead(404).end());
  proxy.attach(server);
  // Whether ws found its native (un)masking helper, as it would in the daemon (ws loads it the same way).
  let bufferutil = false;
  if (!process.env.WS_NO_BUFFER_UTIL) {
    try {
      createRequire(path.join(dir, 'console', 'vnc-proxy.js'))('bufferutil');
      bufferutil = true;
    } catch {
      /* not installed */
    }
  }
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port, bufferutil }) + '\n'));
}

// ---------- client side ----------
let WebSocket;

function open(base, kind) {
  return new Promise((resolve, reject) => {
    const ticket = `${kind}_${crypto.randomBytes(16).toString('base64url')}`;
    const url = base.kind === 'rackhand' ? `${base.url}?ticket=${ticket}` : `${base.url}?token=${kind}`;
    const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    let skip = BANNER.length;
    let onData = () => {};
    let opened = false;
    ws.on('message', (d) => {
      if (skip > 0) {
        const s = Math.min(skip, d.length);
        skip -= s;
        d = d.subarray(s);
        if (skip === 0 && !opened) {
          opened = true;
          resolve(conn);
        }
        if (d.length === 0) return;
      }
      onData(d);
    });
    const conn = {
      send: (b, cb) => ws.send(b, { binary: true }, cb),
      buffered: () => ws.bufferedAmount,
      onData: (f) => (onData = f),
      close: () =>
        new Promise((r) => {
          if (ws.readyState === ws.CLOSED) return r();
          ws.once('close', r);
          ws.close();
        }),
    };
    ws.on('error', reject);
  });
}

const header = (n) => {
  const h = Buffer.alloc(8);
  h.writeBigUInt64BE(BigInt(n));
  return h;
};

/**
 * Upload through a raw socket with pre-masked frames: a browser masks in native code, while the ws client masks
 * byte by byte in JavaScript, which would make the client, not the proxy, the bottleneck being measured.
 */
function rawOpen(base, kind) {
  return new Promise((resolve, reject) => {
    const ticket = `${kind}_${crypto.randomBytes(16).toString('base64url')}`;
    const u = new URL(base.kind === 'rackhand' ? `${base.url}?ticket=${ticket}` : `${base.url}?token=${kind}`);
    const sock = net.connect(Number(u.port), u.hostname);
    sock.setNoDelay(true);
    let head = Buffer.alloc(0);
    let frames = 0;
    let onBytes = () => {};
    const conn = { sock, received: () => frames, onBytes: (f) => (onBytes = f) };
    sock.on('error', reject);
    sock.on('data', (d) => {
      if (head) {
        head = Buffer.concat([head, d]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        if (!head.subarray(0, 12).toString().includes(' 101')) return reject(new Error(head.toString()));
        d = head.subarray(i + 4);
        head = null;
        resolve(conn);
      }
      frames += d.length;
      onBytes();
    });
    sock.write(
      `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n`,
    );
  });
}

function maskedFrame(payload, mask) {
  const len = payload.length;
  const h = len < 126 ? Buffer.from([0x82, 0x80 | len]) : Buffer.from([0x82, 0x80 | 126, len >> 8, len & 255]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([h, mask, body]);
}

async function upload(base, bytes) {
  const c = await rawOpen(base, 'sink');
  const mask = crypto.randomBytes(4);
  const chunk = 60 * 1024; // < 64 KiB: a 16-bit length, like a browser's typical frame
  const frame = maskedFrame(Buffer.alloc(chunk, 0xa5), mask);
  // The server's answer: a 12-byte banner frame (2 + 12 bytes), then 'K' (2 + 1 bytes).
  await new Promise((r) => (c.received() >= 14 ? r() : c.onBytes(() => c.received() >= 14 && r())));
  const done = new Promise((r) => c.onBytes(() => c.received() >= 17 && r()));
  const t0 = process.hrtime.bigint();
  c.sock.write(maskedFrame(header(bytes), mask));
  let sent = 0;
  await new Promise((resolve) => {
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk, bytes - sent);
        sent += n;
        const ok = c.sock.write(n === chunk ? frame : maskedFrame(Buffer.alloc(n, 0xa5), mask));
        if (!ok) return void c.sock.once('drain', pump);
      }
      resolve();
    };
    pump();
  });
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  c.sock.destroy();
  return bytes / 1048576 / secs;
}

async function download(base, bytes) {
  const c = await open(base, 'source');
  let got = 0;
  const done = new Promise((r) =>
    c.onData((d) => {
      got += d.length;
      if (got >= bytes) r();
    }),
  );
  const t0 = process.hrtime.bigint();
  c.send(header(bytes));
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await c.close();
  return bytes / 1048576 / secs;
}

async function echo(base, count = 2000, size = 32, warm = 200) {
  const c = await open(base, 'echo');
  const msg = Buffer.alloc(size, 1);
  let want = 0;
  let res = () => {};
  c.onData((d) => {
    want -= d.length;
    if (want <= 0) res();
  });
  const rtt = [];
  for (let i = 0; i < count + warm; i++) {
    want = size;
    const p = new Promise((r) => (res = r));
    const t = process.hrtime.bigint();
    c.send(msg);
    await p;
    if (i >= warm) rtt.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  await c.close();
  rtt.sort((a, b) => a - b);
  const q = (x) => rtt[Math.min(rtt.length - 1, Math.floor(x * rtt.length))];
  return { p50: q(0.5), p99: q(0.99) };
}

// ---------- memory and CPU ----------
/** utime+stime+cutime+cstime in clock ticks (cutime/cstime include reaped children: websockify's forks). */
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

function procTree(rootPid) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch {
      /* gone */
    }
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(rootPid);
  return out;
}

/** RSS and PSS (shared pages split between forked processes) summed over a process tree, in MiB. */
function memory(rootPid) {
  let rss = 0;
  let pss = 0;
  const pids = procTree(rootPid);
  for (const p of pids) {
    try {
      const roll = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return { rss: rss / 1024, pss: pss / 1024, procs: pids.length };
}

async function tenSessions(base, pid, bytesEach) {
  const idle = memory(pid);
  let peak = { rss: 0, pss: 0, procs: 0 };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const m = memory(pid);
      if (m.rss > peak.rss) peak = { ...m, pss: Math.max(m.pss, peak.pss) };
      else peak.pss = Math.max(peak.pss, m.pss);
      await sleep(50);
    }
  })();
  // Ten consoles open at once: each streams a screenful of updates down while echoing input up.
  const conns = await Promise.all(Array.from({ length: 10 }, () => open(base, 'source')));
  const echoes = await Promise.all(Array.from({ length: 10 }, () => open(base, 'echo')));
  await Promise.all(
    conns.map(
      (c) =>
        new Promise((r) => {
          let got = 0;
          c.onData((d) => {
            got += d.length;
            if (got >= bytesEach) r();
          });
          c.send(header(bytesEach));
        }),
    ),
  );
  const held = memory(pid);
  sampling = false;
  await sampler;
  await Promise.all([...conns, ...echoes].map((c) => c.close()));
  return { idle, held, peak };
}

// ---------- the anchor ----------
function anchorMissing() {
  if (!fs.existsSync(WEBSOCKIFY) || !fs.existsSync(path.join(NOVNC_DIR, 'vnc.html'))) return true;
  // Debian's websockify runs on the system python; another python3 on PATH may lack the module.
  return spawnSync(PYTHON, ['-c', 'import websockify'], { stdio: 'ignore' }).status !== 0;
}

/** Installs websockify and noVNC from Debian when they are missing; throws a one-line reason when it cannot. */
function ensureAnchor() {
  if (!anchorMissing()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`the anchor is missing: run as root so the bench can install it, or: apt-get install ${ANCHOR_PACKAGES.join(' ')}`);
  }
  console.error(`bench: installing the anchor (${ANCHOR_PACKAGES.join(' ')}) with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) => spawnSync('apt-get', args, { env, encoding: 'utf8' });
  let r = apt(['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=600', '--no-install-recommends', ...ANCHOR_PACKAGES]);
  if (r.status !== 0) {
    // A fresh machine may not have package lists yet.
    apt(['update', '-q']);
    r = apt(['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=600', '--no-install-recommends', ...ANCHOR_PACKAGES]);
  }
  if (r.status !== 0 || anchorMissing()) {
    throw new Error(`could not install the anchor (${ANCHOR_PACKAGES.join(' ')}): ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
  }
}

/** Compiles the console module of the working tree, or of a git revision, into DIR; returns DIR. */
function compileConsole(dir, rev) {
  fs.rmSync(dir, { recursive: true, force: true });
  let srcRoot = path.join(ROOT, 'src');
  if (rev) {
    srcRoot = path.join(dir, 'src');
    fs.mkdirSync(srcRoot, { recursive: true });
    const ar = spawnSync('sh', ['-c', `git -C "$0" archive "$1" src/console | tar -x -C "$2"`, ROOT, rev, dir], { encoding: 'utf8' });
    if (ar.status !== 0) throw new Error(`git archive ${rev}: ${ar.stderr.trim()}`);
  }
  const out = path.join(dir, 'out');
  const tsc = spawnSync(
    path.join(ROOT, 'node_modules', '.bin', 'tsc'),
    ['--ignoreConfig', '--outDir', out, '--rootDir', srcRoot, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--skipLibCheck', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), path.join(srcRoot, 'console', 'vnc-proxy.ts')],
    { encoding: 'utf8' },
  );
  if (!fs.existsSync(path.join(out, 'console', 'vnc-proxy.js'))) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  // Its imports (ws) resolve from the project's node_modules.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
  return out;
}

// ---------- main ----------
function startChild(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  child.stderr.on('data', (d) => process.env.BENCH_DEBUG && process.stderr.write(d));
  return child;
}

function firstLine(child) {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(JSON.parse(buf.slice(0, i)));
    });
    child.once('exit', (c) => reject(new Error(`child exited ${c}`)));
  });
}

async function freePort() {
  return new Promise((r) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
}

async function waitListening(port, child) {
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`websockify exited (${child.exitCode}): ${stderr.trim().split('\n').pop() ?? ''}`);
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`websockify is not listening on ${port} after 10 s: ${stderr.trim().split('\n').pop() ?? ''}`);
}

async function main() {
  const args = process.argv.slice(2);
  const nb = args.indexOf('--no-bufferutil');
  // ws without its native (un)masking helper: what the package costs without it.
  if (nb >= 0) args.splice(nb, 1);
  const ji = args.indexOf('--json');
  if (ji >= 0) args.splice(ji, 1);
  const bi = args.indexOf('--baseline');
  const baseline = bi >= 0 ? args.splice(bi, 2)[1] : undefined;
  if (bi >= 0 && !baseline) throw new Error('--baseline needs a git revision');
  const mib = Number(args[0] ?? 256);
  const rounds = Number(args[1] ?? 2);
  const bytes = mib * 1048576;
  ({ default: WebSocket } = await import('ws'));
  ensureAnchor();

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-bench-console-${process.pid}-`));
  const children = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  try {
    // Compile just the console module (and what it imports) so the bench does not depend on a full build.
    const build = compileConsole(path.join(tmp, 'build'));
    const baselineBuild = baseline ? compileConsole(path.join(tmp, 'baseline'), baseline) : undefined;
    const self = fileURLToPath(import.meta.url);
    const targets = startChild(process.execPath, [self, '--targets']);
    children.push(targets);
    const ports = await firstLine(targets);

    const rh = startChild(process.execPath, [self, '--proxy', build, JSON.stringify(ports)],
      nb >= 0 ? { env: { ...process.env, WS_NO_BUFFER_UTIL: '1' } } : {});
    children.push(rh);
    const { port: rhPort, bufferutil } = await firstLine(rh);
    console.error(`rackhand's proxy: ws ${createRequire(import.meta.url)('ws/package.json').version}, ${bufferutil ? 'with' : 'WITHOUT'} bufferutil`);
    let basePort;
    if (baselineBuild) {
      const b = startChild(process.execPath, [self, '--proxy', baselineBuild, JSON.stringify(ports)]);
      children.push(b);
      ({ port: basePort } = await firstLine(b));
      children.baselinePid = b.pid;
    }

    const tokens = path.join(tmp, 'tokens.cfg');
    fs.writeFileSync(tokens, Object.entries(ports).map(([k, p]) => `${k}: 127.0.0.1:${p}`).join('\n') + '\n');
    const wsfPort = await freePort();
    const wsf = startChild(PYTHON, [WEBSOCKIFY, '--web', NOVNC_DIR, '--token-plugin', 'TokenFile', '--token-source', tokens, `127.0.0.1:${wsfPort}`],
      { cwd: tmp });
    children.push(wsf);
    await waitListening(wsfPort, wsf);

    const subjects = {
      rackhand: { kind: 'rackhand', url: `ws://127.0.0.1:${rhPort}/console/ws`, pid: rh.pid },
      websockify: { kind: 'websockify', url: `ws://127.0.0.1:${wsfPort}/`, pid: wsf.pid },
    };
    if (baselineBuild) subjects.baseline = { kind: 'rackhand', url: `ws://127.0.0.1:${basePort}/console/ws`, pid: children.baselinePid };
    const names = Object.keys(subjects);
    const res = Object.fromEntries(names.map((n) => [n, { up: 0, down: 0, p50: Infinity, p99: Infinity, ups: [], downs: [] }]));
    // Alternate the order in every round and keep each one's best and median: other work on this machine adds noise.
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 === 0 ? names : [...names].reverse()) {
        const s = subjects[name];
        const c0 = cpuTicks(s.pid);
        const up = await upload(s, bytes);
        await sleep(700); // websockify reaps its per-connection child: its CPU shows up in cutime/cstime
        const c1 = cpuTicks(s.pid);
        await sleep(300);
        const down = await download(s, bytes);
        await sleep(700);
        const c2 = cpuTicks(s.pid);
        const e = await echo(s);
        await sleep(300);
        const o = res[name];
        o.up = Math.max(o.up, up);
        o.down = Math.max(o.down, down);
        o.ups.push(up);
        o.downs.push(down);
        o.p50 = Math.min(o.p50, e.p50);
        o.p99 = Math.min(o.p99, e.p99);
        const perGiB = (t) => ((t / 100) * 1024) / mib;
        o.cpuUp = Math.min(o.cpuUp ?? Infinity, perGiB(c1 - c0));
        o.cpuDown = Math.min(o.cpuDown ?? Infinity, perGiB(c2 - c1));
        console.error(
          `round ${r + 1} ${name}: up ${up.toFixed(0)} MiB/s (proxy CPU ${perGiB(c1 - c0).toFixed(1)} s/GiB), ` +
            `down ${down.toFixed(0)} MiB/s (proxy CPU ${perGiB(c2 - c1).toFixed(1)} s/GiB), echo p50 ${e.p50.toFixed(0)} µs p99 ${e.p99.toFixed(0)} µs`,
        );
      }
    }
    for (const name of names) {
      await sleep(1000); // websockify reaps its per-connection children
      res[name].mem = await tenSessions(subjects[name], subjects[name].pid, 32 * 1048576);
    }

    const f = (x, d = 0) => x.toFixed(d);
    const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
    for (const o of Object.values(res)) Object.assign(o, { upMedian: median(o.ups), downMedian: median(o.downs), ups: undefined, downs: undefined });
    const R = res.rackhand;
    const W = res.websockify;
    console.log(`console proxy bench: ${mib} MiB each way, 2,000 x 32-byte echoes, 10 concurrent sessions (best and median of ${rounds} rounds)`);
    console.log('                         rackhand    websockify    ratio (rackhand/websockify)');
    console.log(`upload MiB/s            ${f(R.up).padStart(9)}    ${f(W.up).padStart(10)}    ${f(R.up / W.up, 2)}x   (goal >= 2)`);
    console.log(`download MiB/s          ${f(R.down).padStart(9)}    ${f(W.down).padStart(10)}    ${f(R.down / W.down, 2)}x   (goal >= 1)`);
    console.log(`upload median MiB/s     ${f(R.upMedian).padStart(9)}    ${f(W.upMedian).padStart(10)}    ${f(R.upMedian / W.upMedian, 2)}x`);
    console.log(`download median MiB/s   ${f(R.downMedian).padStart(9)}    ${f(W.downMedian).padStart(10)}    ${f(R.downMedian / W.downMedian, 2)}x`);
    console.log(`proxy CPU up s/GiB     ${f(R.cpuUp, 2).padStart(9)}    ${f(W.cpuUp, 2).padStart(10)}    ${f(R.cpuUp / W.cpuUp, 2)}x`);
    console.log(`proxy CPU down s/GiB   ${f(R.cpuDown, 2).padStart(9)}    ${f(W.cpuDown, 2).padStart(10)}    ${f(R.cpuDown / W.cpuDown, 2)}x`);
    console.log(`echo p50 µs             ${f(R.p50).padStart(9)}    ${f(W.p50).padStart(10)}    ${f(R.p50 / W.p50, 2)}x   (lower is better)`);
    console.log(`echo p99 µs             ${f(R.p99).padStart(9)}    ${f(W.p99).padStart(10)}    ${f(R.p99 / W.p99, 2)}x`);
    console.log(`idle RSS MiB            ${f(R.mem.idle.rss, 1).padStart(9)}    ${f(W.mem.idle.rss, 1).padStart(10)}`);
    console.log(`10 sessions peak RSS    ${f(R.mem.peak.rss, 1).padStart(9)}    ${f(W.mem.peak.rss, 1).padStart(10)}    ${f(R.mem.peak.rss / W.mem.peak.rss, 2)}x   (goal <= 0.33; ${W.mem.held.procs} websockify processes)`);
    console.log(`10 sessions peak PSS    ${f(R.mem.peak.pss, 1).padStart(9)}    ${f(W.mem.peak.pss, 1).padStart(10)}    ${f(R.mem.peak.pss / W.mem.peak.pss, 2)}x   (shared pages split between forks)`);
    if (baselineBuild) {
      const B = res.baseline;
      console.log(`\nagainst the proxy of ${baseline} (same rounds)    rackhand    ${baseline.slice(0, 12).padStart(12)}    ratio`);
      console.log(`upload MiB/s            ${f(R.up).padStart(9)}    ${f(B.up).padStart(12)}    ${f(R.up / B.up, 2)}x`);
      console.log(`download MiB/s          ${f(R.down).padStart(9)}    ${f(B.down).padStart(12)}    ${f(R.down / B.down, 2)}x`);
      console.log(`upload median MiB/s     ${f(R.upMedian).padStart(9)}    ${f(B.upMedian).padStart(12)}    ${f(R.upMedian / B.upMedian, 2)}x`);
      console.log(`download median MiB/s   ${f(R.downMedian).padStart(9)}    ${f(B.downMedian).padStart(12)}    ${f(R.downMedian / B.downMedian, 2)}x`);
      console.log(`proxy CPU up s/GiB     ${f(R.cpuUp, 2).padStart(9)}    ${f(B.cpuUp, 2).padStart(12)}    ${f(R.cpuUp / B.cpuUp, 2)}x`);
      console.log(`proxy CPU down s/GiB   ${f(R.cpuDown, 2).padStart(9)}    ${f(B.cpuDown, 2).padStart(12)}    ${f(R.cpuDown / B.cpuDown, 2)}x`);
      console.log(`echo p50 / p99 µs       ${`${f(R.p50)} / ${f(R.p99)}`.padStart(9)}    ${`${f(B.p50)} / ${f(B.p99)}`.padStart(12)}`);
      console.log(`10 sessions peak RSS    ${f(R.mem.peak.rss, 1).padStart(9)}    ${f(B.mem.peak.rss, 1).padStart(12)}    ${f(R.mem.peak.rss / B.mem.peak.rss, 2)}x`);
    }
    const summary = (o) => ({ ...o, mem: undefined, peakRssMiB: +f(o.mem.peak.rss, 1), peakPssMiB: +f(o.mem.peak.pss, 1) });
    console.log(
      JSON.stringify({
        MiB: mib,
        rackhand: summary(R),
        websockify: { ...summary(W), procs: W.mem.held.procs },
        ...(baselineBuild ? { baseline: { rev: baseline, ...summary(res.baseline) } } : {}),
        ratios: {
          upload: +f(R.up / W.up, 2),
          download: +f(R.down / W.down, 2),
          uploadMedian: +f(R.upMedian / W.upMedian, 2),
          downloadMedian: +f(R.downMedian / W.downMedian, 2),
          p50: +f(R.p50 / W.p50, 2),
          p99: +f(R.p99 / W.p99, 2),
          rss: +f(R.mem.peak.rss / W.mem.peak.rss, 2),
          pss: +f(R.mem.peak.pss / W.mem.peak.pss, 2),
        },
      }),
    );
    if (ji >= 0) {
      const row = (name, r, w, unit, ratio, goal, met) => ({ name: `console ${name}`, rackhand: `${r} ${unit}`, tool: 'websockify', anchor: `${w} ${unit}`, ratio, goal, met });
      const up = R.up / W.up;
      const down = R.down / W.down;
      const rss = R.mem.peak.rss / W.mem.peak.rss;
      printSummary('console', [
        row(`upload, ${mib} MiB (best of ${rounds})`, f(R.up), f(W.up), 'MiB/s', up, '≥ 2× speed', up >= 2),
        row(`download, ${mib} MiB (best of ${rounds})`, f(R.down), f(W.down), 'MiB/s', down, '≥ 1× speed', down >= 1),
        row('echo p99', f(R.p99), f(W.p99), 'µs', R.p99 / W.p99, '', null),
        row('10 sessions peak RSS', f(R.mem.peak.rss, 1), f(W.mem.peak.rss, 1), 'MiB', rss, '≤ 0.33×', rss <= 0.33),
      ]);
    }
  } finally {
    cleanup();
  }
  process.exit(0);
}

if (process.argv[2] === '--targets') await runTargets();
else if (process.argv[2] === '--proxy') await runProxy(process.argv[3], process.argv[4]);
else {
  await main().catch((e) => {
    console.error(`bench/console: ${e.message}`);
    process.exit(1);
  });
}
