#!/usr/bin/env node
// Fuzz bench: 10^5 hostile datagrams per boot-protocol decoder through rackhand's running DHCP and TFTP servers, then real clients.
//
// Usage: node bench/fuzz-boot.mjs [--cases 100000] [--seed N] [--no-build]   (root: it works in a private network namespace)
// Sending is paced by the server's own counters, so every case is processed ("arrived"; port 67 also counts
// the reservation server's answers to relayed cases, which go to giaddr 127.0.0.1:67, i.e. to itself).
// Decoders, each reached the way the network reaches it: DHCP on port 67 (reservation mode), on a proxy-mode
// server's DHCP port and its port 4011; TFTP requests (with RFC 2347 options) on the listen port; TFTP traffic
// into live transfers from the client's own port, for both transfer engines (native and JavaScript). The servers
// are the daemon's build (dist/, after `npm run build`). Per decoder it prints cases sent, crashes (the server process
// died, or a handler caught an exception that was not a decode error) and rejected (datagrams the server counted
// as malformed), and whether a real client (busybox udhcpc, tftp-hpa) still gets its lease or file afterwards.
// Everything runs inside a network namespace made here, so replies to fuzzed relay/client addresses go nowhere.

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureAnchors } from './ensure-anchors.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const CASES = Number(arg('cases', 100_000));
const SEED = Number(arg('seed', Date.now() % 2 ** 31));
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NS = `rh-fuzz-${process.pid}`;
const CLIENT_MAC = '02:de:f0:00:01:70';
const ARMED_MAC = '02:de:f0:00:01:71';
const PREFIX = '10.213.251';

if (!args.includes('--inside')) {
  // ---------------------------------------------------------------- outside: set-up, namespace, re-run inside
  ensureAnchors({ tftp: 'tftp-hpa', busybox: 'busybox-static', ip: 'iproute2' });
  if (!args.includes('--no-build')) execFileSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `rh-fuzz-bench-${process.pid}-`));
  const ip = (...a) => execFileSync('ip', a, { stdio: 'inherit' });
  const cleanup = () => {
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    fs.rmSync(work, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  process.on('SIGINT', () => process.exit(130));
  // Compile the shared generators (the servers are dist/); node_modules is linked so fast-check resolves.
  execFileSync(
    path.join(repo, 'node_modules/.bin/tsc'),
    ['--ignoreConfig', '--outDir', path.join(work, 'js'), '--rootDir', repo, '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node', path.join(repo, 'test/boot/boot-fuzz-arbitraries.ts')],
    { stdio: 'inherit', cwd: repo },
  );
  fs.writeFileSync(path.join(work, 'js/package.json'), '{"type":"module"}');
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(work, 'js/node_modules'));
  ip('netns', 'add', NS);
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  ip('-n', NS, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', NS, 'addr', 'add', `${PREFIX}.1/24`, 'dev', 'br0');
  ip('-n', NS, 'link', 'set', 'br0', 'up');
  ip('-n', NS, 'route', 'add', '255.255.255.255/32', 'dev', 'br0');
  ip('-n', NS, 'link', 'add', 'vc0', 'type', 'veth', 'peer', 'name', 'vs0');
  ip('-n', NS, 'link', 'set', 'vs0', 'master', 'br0', 'up');
  ip('-n', NS, 'link', 'set', 'vc0', 'address', CLIENT_MAC, 'up');
  const inner = spawn('ip', ['netns', 'exec', NS, process.execPath, fileURLToPath(import.meta.url), '--inside', '--work', work,
    '--cases', String(CASES), '--seed', String(SEED)], { stdio: 'inherit' });
  inner.on('exit', (code) => process.exit(code ?? 1));
} else {
  // ---------------------------------------------------------------- inside the namespace
  const work = arg('work');
  const js = path.join(work, 'js');
  const fc = (await import('fast-check')).default;
  const { dhcpDatagram, tftpRequestDatagram, tftpTransferDatagram } = await import(path.join(js, 'test/boot/boot-fuzz-arbitraries.js'));
  const dist = path.join(repo, 'dist');
  const { serializeRequest, serializeAck, parseTftpPacket } = await import(path.join(dist, 'boot/tftp/tftp-packet.js'));
  const root = path.join(work, 'root');
  fs.mkdirSync(root);
  fs.chmodSync(work, 0o755);
  const content = randomBytes(1024 * 1024);
  fs.writeFileSync(path.join(root, 'file.bin'), content);

  // The target: both DHCP servers and both TFTP servers in one process, so a crash of any is a dead process.
  const target = spawn(process.execPath, ['--input-type=module', '-e', `
    import { DhcpServer } from ${JSON.stringify(path.join(dist, 'boot/dhcp/dhcp-server.js'))};
    import { TftpServer } from ${JSON.stringify(path.join(dist, 'boot/tftp/tftp-server.js'))};
    const hosts = [
      { serverId: 1, name: 'client', mac: ${JSON.stringify(CLIENT_MAC)}, ip: '${PREFIX}.70', netmask: '255.255.255.0', gateway: '${PREFIX}.1', netbootArmed: false },
      { serverId: 2, name: 'armed', mac: ${JSON.stringify(ARMED_MAC)}, ip: '${PREFIX}.71', netmask: '255.255.255.0', netbootArmed: true },
    ];
    const lookup = { findByMac: (m) => hosts.find((h) => h.mac === m), findByIp: (i) => hosts.find((h) => h.ip === i), recordDiscovered() {} };
    const common = { lookup, serverIp: '${PREFIX}.1', bootFiles: { bios: 'undionly.kpxe', uefiX64: 'ipxe.efi' }, scriptUrl: 'http://{serverIp}/boot/{mac}.ipxe' };
    const reservation = new DhcpServer({ ...common, mode: 'reservation' });
    const proxy = new DhcpServer({ ...common, mode: 'proxy', port: 6767 });
    const tftpOptions = { address: '127.0.0.1', roots: [${JSON.stringify(root)}], timeoutMs: 200, retries: 2, maxTransfersPerClient: 256 };
    const tftp = new TftpServer({ ...tftpOptions, port: 69, engine: 'native' });
    const tftpJs = new TftpServer({ ...tftpOptions, port: 70, engine: 'js' });
    await reservation.start(); await proxy.start(); await tftp.start(); await tftpJs.start();
    process.stdin.on('data', () => process.stdout.write(JSON.stringify({
      reservation: reservation.counters, proxy: proxy.counters, tftp: tftp.stats(), tftpJs: tftpJs.stats() }) + '\\n'));
    process.stdout.write('ready\\n');`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let waiter;
  createInterface({ input: target.stdout }).on('line', (l) => {
    lines.push(l);
    waiter?.();
  });
  let died = false;
  target.on('exit', () => {
    died = true;
    waiter?.();
  });
  const line = async () => {
    while (!lines.length) {
      if (died) throw new Error('target died');
      await new Promise((r) => (waiter = r));
    }
    return lines.shift();
  };
  await line();
  const counters = async () => {
    target.stdin.write('?\n');
    return JSON.parse(await line());
  };
  /** Counters once they stop moving (every datagram sent has been handled). */
  const settled = async () => {
    let prev = '';
    for (;;) {
      const c = await counters();
      const key = JSON.stringify([c.reservation.received, c.proxy.received, c.tftp.requests, c.tftp.badPackets, c.tftp.activeTransfers,
        c.tftpJs.badPackets, c.tftpJs.activeTransfers]);
      if (key === prev) return c;
      prev = key;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  sock.on('message', () => {});
  const send = (s, d, port) => new Promise((r) => s.send(d, port, '127.0.0.1', () => r()));
  /**
   * Sends every datagram, never more than WINDOW ahead of what the server has counted, so none is lost to
   * a full socket buffer on a busy machine (a lost datagram tests nothing). The kernel may still drop one
   * now and then: after a short wait the window moves on.
   */
  const WINDOW = 32;
  async function blast(datagrams, port, seen) {
    const base = await seen();
    for (let i = 0; i < datagrams.length; i++) {
      if (i % WINDOW === 0) {
        for (let waited = 0; (await seen()) - base < i - WINDOW && waited < 200; waited++) await new Promise((r) => setTimeout(r, 1));
      }
      await send(sock, datagrams[i], port);
    }
  }
  const seenBy = (pick) => async () => pick(await counters());

  /** Junk from a live transfer's own client between valid ACKs, starting a new transfer whenever one ends. */
  async function intoTransfers(junk, port) {
    let sent = 0;
    let transfers = 0;
    while (sent < junk.length) {
      const c = dgram.createSocket('udp4');
      await new Promise((r) => c.bind(0, '127.0.0.1', r));
      const queue = [];
      let wake;
      c.on('message', (m, r) => {
        queue.push({ m, port: r.port });
        wake?.();
      });
      const next = async (ms) => {
        const until = Date.now() + ms;
        while (!queue.length && Date.now() < until) await new Promise((r) => ((wake = r), setTimeout(r, until - Date.now())));
        return queue.shift();
      };
      transfers += 1;
      await send(c, serializeRequest({ op: 'RRQ', filename: 'file.bin', mode: 'octet' }), port);
      const data = async (ms) => {
        for (let d; (d = await next(ms)); ) {
          try {
            const p = parseTftpPacket(d.m);
            return p.op === 'DATA' ? { block: p.block, port: d.port } : undefined;
          } catch {
            // not TFTP: keep waiting
          }
        }
        return undefined;
      };
      let d = await data(2000);
      const isError = (b) => b.length >= 4 && b[0] === 0 && b[1] === 5; // ends the transfer: no DATA will follow
      while (d && sent < junk.length) {
        let ended = false;
        for (let k = 0; k < 20 && sent < junk.length; k++) {
          ended ||= isError(junk[sent]);
          await send(c, junk[sent++], d.port);
        }
        if (ended) break;
        await send(c, serializeAck(d.block), d.port);
        let n = await data(1000);
        while (n && n.block === d.block) n = await data(1000); // a retransmit of the block just acknowledged
        d = n;
      }
      c.close();
    }
    return transfers;
  }

  const realDhcp = () => {
    const script = path.join(work, 'udhcpc.sh');
    fs.writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "LEASE $ip"\nexit 0\n', { mode: 0o755 });
    try {
      const out = execFileSync('busybox', ['udhcpc', '-i', 'vc0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return out.includes(`LEASE ${PREFIX}.70`) ? 'lease ok' : 'NO LEASE';
    } catch {
      return 'NO LEASE';
    }
  };
  const realTftp = (port) => () => {
    const out = path.join(work, 'got.bin');
    try {
      execFileSync('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', 'file.bin', out], { stdio: 'ignore', timeout: 60_000 });
      return fs.readFileSync(out).equals(content) ? 'file ok' : 'FILE DIFFERS';
    } catch {
      return 'NO FILE';
    } finally {
      fs.rmSync(out, { force: true });
    }
  };

  const macs = [CLIENT_MAC, ARMED_MAC];
  const decoders = [
    { name: 'DHCP port 67, reservation mode', gen: () => dhcpDatagram(macs), run: (d) => blast(d, 67, seenBy((c) => c.reservation.received)), server: 'reservation', check: realDhcp },
    { name: 'DHCP proxy mode, its DHCP port', gen: () => dhcpDatagram(macs), run: (d) => blast(d, 6767, seenBy((c) => c.proxy.received)), server: 'proxy', check: realDhcp },
    { name: 'DHCP proxy mode, port 4011', gen: () => dhcpDatagram(macs), run: (d) => blast(d, 4011, seenBy((c) => c.proxy.received)), server: 'proxy', check: realDhcp },
    {
      name: 'TFTP listen port (requests, options)', gen: () => tftpRequestDatagram,
      run: (d) => blast(d, 69, seenBy((c) => c.tftp.requests + c.tftp.badPackets)), server: 'tftp', check: realTftp(69),
    },
    { name: 'TFTP live transfers, native engine', gen: () => tftpTransferDatagram, run: (d) => intoTransfers(d, 69), server: 'tftp', check: realTftp(69) },
    { name: 'TFTP live transfers, JavaScript engine', gen: () => tftpTransferDatagram, run: (d) => intoTransfers(d, 70), server: 'tftpJs', check: realTftp(70) },
  ];
  const rejectedOf = (c, server) => (server.startsWith('tftp') ? c[server].badPackets : c[server].malformed);
  /** Datagrams the server saw (the kernel drops some when its buffer is full); '-' where the server cannot count them. */
  const arrivedOf = (c, d) => (d.server.startsWith('tftp') ? (d.name.includes('listen') ? c.tftp.requests + c.tftp.badPackets : undefined) : c[d.server].received);
  const errorsOf = (c) => c.reservation.handlerErrors + c.proxy.handlerErrors + c.tftp.handlerErrors + c.tftpJs.handlerErrors;
  console.log(`fuzz-boot: ${CASES} cases per decoder, seed ${SEED}, fast-check ${fc.__version}, in namespace ${NS}`);
  console.log(`${'decoder'.padEnd(40)} ${'cases'.padStart(8)} ${'arrived'.padStart(8)} ${'crashes'.padStart(8)} ${'rejected'.padStart(9)}  real client after`);
  let failed = false;
  for (const [i, d] of decoders.entries()) {
    const datagrams = fc.sample(d.gen(), { numRuns: CASES, seed: SEED + i });
    const before = await settled();
    const t0 = Date.now();
    const extra = await d.run(datagrams);
    const after = died ? before : await settled();
    const crashes = died ? 'DIED' : String(errorsOf(after) - errorsOf(before));
    const rejected = rejectedOf(after, d.server) - rejectedOf(before, d.server);
    const arrived = arrivedOf(after, d) === undefined ? '-' : String(arrivedOf(after, d) - arrivedOf(before, d));
    const real = died ? '-' : d.check();
    failed ||= died || crashes !== '0' || !/ok$/.test(real);
    const note = typeof extra === 'number' ? ` (${extra} transfers)` : '';
    console.log(`${d.name.padEnd(40)} ${String(datagrams.length).padStart(8)} ${arrived.padStart(8)} ${crashes.padStart(8)} ${String(rejected).padStart(9)}  ${real}${note}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (died) break;
  }
  target.kill('SIGTERM');
  sock.close();
  process.exit(failed ? 1 : 0);
}
