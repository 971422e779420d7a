// The unit file and the shipped example config: verified by systemd-analyze, and the daemon started exactly the
// way the unit starts it (its ExecStart, Environment=, WorkingDirectory=, a dedicated user) serves the API.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { REPO_ROOT } from './harness/rackhand-process.js';
import { buildCli } from './cli/tech-cli-runner.js';

const UNIT = `${REPO_ROOT}/systemd/rackhand.service`;
const EXAMPLE = `${REPO_ROOT}/rackhand.example.yaml`;
/** The service user's stand-in: the test machine has no `rackhand` user. */
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** [Service] and [Unit] settings of the unit, repeated keys (Environment=) in order. */
function unitSettings(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of fs.readFileSync(UNIT, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('[')) continue;
    const i = line.indexOf('=');
    out.set(line.slice(0, i), [...(out.get(line.slice(0, i)) ?? []), line.slice(i + 1)]);
  }
  return out;
}

const temp: string[] = [];
afterAll(() => {
  for (const d of temp) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A stand-in for the installed machine: /opt/rackhand is this checkout, /etc/rackhand and /var/lib/rackhand live
 * under a temp root (the state dir as systemd makes it: 0700, owned by the service user).
 */
function installRoot(withConfig: boolean) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-unit-${process.pid}-`));
  temp.push(root);
  fs.chmodSync(root, 0o755);
  const etc = path.join(root, 'etc/rackhand');
  const state = path.join(root, 'var/lib/rackhand');
  fs.mkdirSync(etc, { recursive: true, mode: 0o755 });
  fs.mkdirSync(state, { recursive: true, mode: 0o700 });
  fs.chownSync(state, 65534, 65534);
  for (let d = path.dirname(state); d !== root; d = path.dirname(d)) fs.chmodSync(d, 0o755);
  if (withConfig) {
    // The README's step: copy the example there. Only the port differs, so parallel runs do not collide.
    const text = fs.readFileSync(EXAMPLE, 'utf8').replace(/^( {2}listen: )127\.0\.0\.1:8080$/m, '$1127.0.0.1:0');
    fs.writeFileSync(path.join(etc, 'rackhand.yaml'), text, { mode: 0o644 });
  }
  const map = (v: string) => v.replaceAll('/opt/rackhand', REPO_ROOT).replaceAll('/etc/rackhand', etc).replaceAll('/var/lib/rackhand', state);
  const unit = unitSettings();
  // systemd starts services with a clean environment: its PATH, then the unit's Environment= lines.
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const e of unit.get('Environment') ?? []) {
    const [k, ...v] = e.split('=');
    env[k] = map(v.join('='));
  }
  const exec = map(unit.get('ExecStart')![0]).split(/\s+/);
  return { root, etc, state, env, exec, cwd: map(unit.get('WorkingDirectory')![0]) };
}

beforeAll(async () => {
  await buildCli();
}, 120_000);

describe('systemd/rackhand.service', () => {
  it('passes systemd-analyze verify', () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    expect(r.error, 'systemd-analyze (package systemd) is needed').toBeUndefined();
    // verify prints nothing for a clean unit; an unknown directive or bad value is printed and fails.
    const complaints = (r.stderr + r.stdout).split('\n').filter((l) => l.includes('rackhand.service') && !/Failed to resolve user|User .* not found/.test(l));
    expect(complaints).toEqual([]);
  });

  it('passes systemd-analyze verify installed as the README says: code in /opt/rackhand, the example as /etc/rackhand/rackhand.yaml', () => {
    // A root of its own: /usr bind-mounted (node, kill, systemd's units), this checkout as /opt/rackhand, the unit
    // in /etc/systemd/system. The mounts live in a private mount namespace and end with it.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-root-${process.pid}-`));
    try {
      for (const d of ['etc/systemd/system', 'etc/rackhand', 'usr', 'opt/rackhand']) fs.mkdirSync(path.join(root, d), { recursive: true });
      for (const l of ['bin', 'lib', 'sbin']) fs.symlinkSync(`usr/${l}`, path.join(root, l));
      fs.copyFileSync(UNIT, path.join(root, 'etc/systemd/system/rackhand.service'));
      fs.copyFileSync(EXAMPLE, path.join(root, 'etc/rackhand/rackhand.yaml'));
      const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind /usr "$1/usr" && mount --bind "$2" "$1/opt/rackhand" && systemd-analyze verify --root="$1" rackhand.service', 'sh', root, REPO_ROOT], { encoding: 'utf8' });
      const complaints = (r.stderr + r.stdout).split('\n').filter((l) => l.trim() && !/Failed to resolve user|User .* not found/.test(l));
      expect(complaints).toEqual([]);
      expect(r.status).toBe(0);
    } finally {
      // Never rm -r through a mount point: the mounts are gone with the namespace, and rmdir fails if they are not.
      fs.rmSync(path.join(root, 'etc'), { recursive: true, force: true });
      for (const l of ['bin', 'lib', 'sbin']) fs.rmSync(path.join(root, l), { force: true });
      for (const d of ['usr', 'opt/rackhand', 'opt', '']) fs.rmdirSync(path.join(root, d));
    }
  });

  it('runs as a dedicated user with the promised hardening and capabilities', () => {
    const unit = fs.readFileSync(UNIT, 'utf8');
    for (const line of [
      'User=rackhand',
      'StateDirectory=rackhand',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW',
      'Restart=on-failure',
      'UMask=0077',
      'ExecReload=/bin/kill -HUP $MAINPID',
      'AssertPathExists=/etc/rackhand/rackhand.yaml',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    // The unit's config file and state dir are the ones it names everywhere.
    const s = unitSettings();
    expect(s.get('Environment')).toEqual(expect.arrayContaining(['RACKHAND_CONFIG=/etc/rackhand/rackhand.yaml', 'RACKHAND_STATE_DIR=/var/lib/rackhand']));
  });

  it('the daemon started as the unit starts it, with the example config in place, serves the API', async () => {
    const box = installRoot(true);
    const daemon = spawn(NOBODY[0], [...NOBODY.slice(1), ...box.exec], { env: box.env, cwd: box.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening on" within 30 s:\n${out}`)), 30_000);
      const onData = (b: Buffer) => {
        out += b;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      daemon.stdout.on('data', onData);
      daemon.stderr.on('data', onData);
      daemon.on('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
    });
    try {
      expect(out).toContain(`(state in ${box.state})`);
      // The README's next step: the first token, made as the service user on the service's state dir.
      const token = spawnSync(NOBODY[0], [...NOBODY.slice(1), process.execPath, `${REPO_ROOT}/bin/rackhand.js`, 'token', 'create', '--role', 'admin', '--name', 'me'], {
        env: box.env,
        cwd: box.cwd,
        encoding: 'utf8',
      });
      expect(token.status, token.stderr).toBe(0);
      const res = await fetch(`${url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ role: 'admin', name: 'me' });
      expect(fs.statSync(path.join(box.state, 'rackhand.db')).uid).toBe(65534);
      expect(fs.statSync(path.join(box.state, 'secret.key')).mode & 0o777).toBe(0o600);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('close', r));
    }
    expect(daemon.exitCode).toBe(0);
  });

  it('without /etc/rackhand/rackhand.yaml it says in one line what to do', () => {
    const box = installRoot(false);
    const r = spawnSync(NOBODY[0], [...NOBODY.slice(1), ...box.exec], { env: box.env, cwd: box.cwd, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`rackhand: ${box.etc}/rackhand.yaml: cannot read the configuration file: no such file (copy rackhand.example.yaml there, or leave out --config / RACKHAND_CONFIG to run on the embedded defaults)`]);
  });
});

describe('rackhand.example.yaml', () => {
  it('is exactly the embedded defaults', () => {
    expect(loadConfig({ file: EXAMPLE, env: {} })).toEqual(loadConfig({ env: {} }));
  });

  it('names every key the configuration has, set or commented out', () => {
    const text = fs.readFileSync(EXAMPLE, 'utf8');
    const keys = (o: unknown, prefix: string[] = []): string[][] =>
      o && typeof o === 'object' && !Array.isArray(o) ? Object.entries(o).flatMap(([k, v]) => [[...prefix, k], ...keys(v, [...prefix, k])]) : [];
    // every key of a fully set configuration, including the optional ones without a default
    const full = loadConfig({ env: {} }) as unknown as Record<string, unknown>;
    const optional = ['http.publicUrl', 'boot.serverIp', 'boot.httpUrl', 'boot.tftp.listen', 'boot.bootFiles.arm64', 'boot.imagesDir', 'boot.templatesDir', 'boot.osCatalogue', 'boot.network.netmask', 'boot.network.gateway', 'boot.network.dns', 'boot.network.domain', 'bmc.scheduler.maxParallel', 'bmc.scheduler.minSpacingMs', 'bmc.scheduler.operationTimeoutMs', 'bmc.scheduler.busyRetries', 'bmc.scheduler.busyBackoffMs', 'bmc.scheduler.busyBackoffMaxMs', 'bmc.scheduler.breakerThreshold', 'bmc.scheduler.breakerCooldownMs'];
    const all = [...keys(full).map((k) => k.join('.')), ...optional];
    const missing = all.filter((k) => !new RegExp(`^\\s*(# ?)?${k.split('.').pop()}:`, 'm').test(text));
    expect(missing).toEqual([]);
    expect(text).not.toMatch(/\t/);
  });
});
