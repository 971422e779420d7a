// bench/deploy: rackhand's image streaming against Debian's nginx serving the same file to the same client (curl)
// in the same run, and the seconds from `eq reinstall` to the installed system's first console line for a 256 MiB
// image, BIOS and UEFI, on BMC-powered VMs in the lab (the e2e harness).
// Run: npm run build && bash bench/run-ts.sh bench/deploy.ts [--rounds 7] [--mib 256] [--no-vm]   (as root)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureAnchors } from './ensure-anchors.mjs';
import { printSummary, type SummaryRow } from './bench-summary.mjs';
import { startRackhand } from '../test/harness/rackhand-process.js';
import { buildOsDiskImage, OS_MARKER } from '../test/harness/os-disk-image.js';
import { sharedRamdisk } from '../test/harness/shared-ramdisk.js';
import { startVmBmc } from '../test/harness/vm-bmc.js';
import { startNetbootLab, waitTask } from '../test/harness/vm-bmc-netboot-lab.js';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(`usage: bash bench/run-ts.sh bench/deploy.ts [--rounds N] [--mib N] [--no-vm] [--json]
  --rounds N  interleaved rackhand/nginx download rounds for image streaming (default 7); the median is reported
  --mib N     size of the streamed image and of the deployed OS image (default 256)
  --no-vm     image streaming against nginx only (skips the reinstall timings on VMs)
  --json      print a JSON summary as the last line`);
  process.exit(0);
}
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = opt('rounds', 7);
const MIB = opt('mib', 256);
/** What `--json` prints as its last line: one row per measurement, for `npm run bench`'s table. */
const summary: SummaryRow[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** MiB/s of one curl download to /dev/null (curl's own measure). */
function curlSpeed(url: string): number {
  const out = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download} %{size_download}', url], { encoding: 'utf8' });
  const [speed, size] = out.trim().split(' ').map(Number);
  if (size !== MIB << 20) throw new Error(`${url}: got ${size} bytes`);
  return speed / 2 ** 20;
}

/** CPU seconds a process (all its threads, those ended too) has used, from /proc (10 ms ticks). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function streaming(): Promise<void> {
  ensureAnchors({ nginx: 'nginx', curl: 'curl' });
  const dir = mkdtempSync(path.join(tmpdir(), 'rh-bench-deploy-'));
  const systemCc = readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
  const quiet = { bmc: { sync: { enabled: false } }, sensors: { enabled: false }, log: { level: 'warn' } };
  // The product as shipped (boot.imageCongestionControl: cubic), and the same daemon on the system's congestion
  // control, so the table shows what the setting is worth here rather than hiding it.
  const rh = await startRackhand({ config: quiet });
  const rhSystem = await startRackhand({ config: { ...quiet, boot: { imageCongestionControl: '' } } });
  const nginxDir = path.join(dir, 'nginx');
  let nginx: ReturnType<typeof spawn> | undefined;
  try {
    const file = path.join(dir, 'disk.raw');
    execFileSync('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', `count=${MIB}`, 'status=none']);
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    for (const d of [rh, rhSystem]) {
      const r = d.cli(['images', 'import', 'bench-disk', '--disk', file, '--sha256', sha], undefined, 300_000);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const served = path.join(rh.stateDir, 'images');
    // nginx serves the very same file (the store's hard link), with sendfile, as a site would put it in front;
    // its worker runs as root here because the state dir is private (0700) to the daemon's user
    execFileSync('mkdir', ['-p', nginxDir]);
    const port = 18000 + (process.pid % 1000);
    writeFileSync(
      path.join(nginxDir, 'nginx.conf'),
      `daemon off; user root; worker_processes 1; pid ${nginxDir}/nginx.pid; error_log ${nginxDir}/error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on; types { application/octet-stream raw; }
  client_body_temp_path ${nginxDir}/b; proxy_temp_path ${nginxDir}/p; fastcgi_temp_path ${nginxDir}/f; uwsgi_temp_path ${nginxDir}/u; scgi_temp_path ${nginxDir}/s;
  server { listen 127.0.0.1:${port}; root ${served}; } }\n`,
    );
    nginx = spawn('nginx', ['-c', path.join(nginxDir, 'nginx.conf'), '-p', nginxDir], { stdio: 'ignore' });
    await new Promise((res) => setTimeout(res, 500));
    const image = '/boot/images/bench-disk/disk.raw';
    // The servers' own CPU for the same downloads: steadier than MiB/s on a machine others load (the client's share
    // of the 2 cores sets MiB/s). The daemons whole; nginx's one worker (the master only supervises).
    const servers = [
      { name: `rackhand (cubic, the default)`, url: `${rh.url}${image}`, pid: rh.child().pid!, speeds: [] as number[], cpu: 0 },
      { name: `rackhand (${systemCc}, the system's)`, url: `${rhSystem.url}${image}`, pid: rhSystem.child().pid!, speeds: [] as number[], cpu: 0 },
      { name: `nginx (${systemCc}, the system's)`, url: `http://127.0.0.1:${port}/bench-disk/disk.raw`, pid: Number(readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, 'utf8').trim().split(' ')[0]), speeds: [] as number[], cpu: 0 },
    ];
    for (const s of servers) curlSpeed(s.url); // warm up (page cache, JIT)
    for (let i = 0; i < ROUNDS; i++) {
      // each round in another order, so no server always follows the same one
      for (let k = 0; k < servers.length; k++) {
        const s = servers[(i + k) % servers.length];
        const c0 = cpuSeconds(s.pid);
        s.speeds.push(curlSpeed(s.url));
        s.cpu += cpuSeconds(s.pid) - c0;
      }
    }
    const [ours, oursSystem, theirs] = servers;
    const speed = (s: (typeof servers)[number]) => median(s.speeds);
    const perGiB = (s: (typeof servers)[number]) => (s.cpu * 1000 * 1024) / (MIB * ROUNDS);
    console.log(`image streaming, ${MIB} MiB to curl over loopback, median of ${ROUNDS} interleaved rounds:`);
    for (const s of servers) {
      console.log(`  ${s.name.padEnd(34)} ${speed(s).toFixed(0).padStart(5)} MiB/s  ${(speed(s) / speed(theirs)).toFixed(2)}x nginx   server CPU ${perGiB(s).toFixed(0)} ms/GiB  ${(perGiB(s) / perGiB(theirs)).toFixed(2)}x nginx`);
      console.log(`    per round: ${s.speeds.map((x) => x.toFixed(0)).join(' ')}`);
    }
    console.log(`  ratio ${(speed(ours) / speed(theirs)).toFixed(2)}x nginx's speed (goal >= 1.0)`);
    summary.push({ name: `image streaming, ${MIB} MiB to curl`, rackhand: `${speed(ours).toFixed(0)} MiB/s`, tool: 'nginx', anchor: `${speed(theirs).toFixed(0)} MiB/s`, ratio: speed(ours) / speed(theirs), goal: '≥ 1× speed', met: speed(ours) >= speed(theirs) });
    summary.push({ name: `image streaming on the system's ${systemCc}`, rackhand: `${speed(oursSystem).toFixed(0)} MiB/s`, tool: 'nginx', anchor: `${speed(theirs).toFixed(0)} MiB/s`, ratio: speed(oursSystem) / speed(theirs), goal: '', met: null });
  } finally {
    nginx?.kill('SIGTERM');
    await rh.cleanup();
    await rhSystem.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function deployTimes(): Promise<void> {
  const L = await startNetbootLab({ boot: () => ({ installTimeoutMs: 900_000, lldpWaitSeconds: 0, rebootGraceMs: 1000 }) });
  const image = await buildOsDiskImage({ sizeMiB: MIB });
  try {
    const ramdisk = await sharedRamdisk();
    const cli = (a: string[]) => {
      const r = L.rh.cli(a, undefined, 300_000);
      if (r.code !== 0) throw new Error(r.stderr);
    };
    cli(['images', 'import', 'rackhand-ramdisk', '--kernel', ramdisk.kernel, '--kernel-sha256', ramdisk.manifest.kernel.sha256, '--initrd', ramdisk.initramfs, '--initrd-sha256', ramdisk.manifest.initramfs.sha256]);
    cli(['images', 'import', 'bench-os', '--disk', image.zst, '--sha256', createHash('sha256').update(readFileSync(image.zst)).digest('hex'), '--os-id', '710']);
    for (const [i, firmware] of (['bios', 'uefi'] as const).entries()) {
      const vm = await startVmBmc({ lab: L.lab, name: `bd${i}`, mac: `52:54:00:78:00:1${i}`, bmcPort: 6400 + i, firmware, memMb: 512, disk: { sizeMiB: MIB + 64 } });
      try {
        await L.api.post('/api/v1/servers/import', [
          { id: 810 + i, name: `bench-${firmware}`, interfaces: [{ name: 'eth0', mac: vm.mac, ip: `${L.lab.prefix}.${90 + i}` }], bmc: { driver: 'ipmi', host: vm.bmc.host, port: vm.bmc.port, username: vm.bmc.username, password: vm.bmc.password } },
        ]);
        const from = vm.serialOffset();
        const t0 = Date.now();
        const r = await L.api.eq({ action: 'reinstall', id: 810 + i, os_id: 710, root_pass: 'Bench-Root-1', hostname: `bench-${firmware}` }, L.admin);
        await vm.waitForSerial(new RegExp(OS_MARKER.boot), 900_000, from);
        const seconds = (Date.now() - t0) / 1000;
        const t = await waitTask(L.api, r.json.task, 300_000);
        const streamed = t.steps.filter((s: any) => s.name === 'host: stream image');
        const streamS = (Date.parse(streamed.at(-1).at) - Date.parse(streamed[0].at)) / 1000;
        summary.push({ name: `reinstall to first console line, ${MIB} MiB, ${firmware}`, rackhand: `${seconds.toFixed(1)} s`, tool: '', anchor: '', ratio: null, goal: '', met: null });
        console.log(`reinstall → first console line of the installed system, ${MIB} MiB image (${(image.zstBytes / 2 ** 20).toFixed(1)} MiB zst), ${firmware}: ${seconds.toFixed(1)} s (stream step ${streamS.toFixed(1)} s; TCG VM)`);
      } finally {
        await vm.stop();
      }
    }
  } finally {
    image.cleanup();
    await L.destroy();
  }
}

await streaming();
if (!args.includes('--no-vm')) await deployTimes();
if (args.includes('--json')) printSummary('deploy', summary);
spawnSync('true');
