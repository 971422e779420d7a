// `rackhand serve` as an operator meets it: one daemon per state dir, bootstrap commands beside it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, REPO_ROOT, startRackhand, testConfig, type RackhandProcess } from '../harness/rackhand-process.js';
import { LOCK_FILE_NAME } from '../../src/store/state-lock.js';
import { buildCli } from './tech-cli-runner.js';

const BIN = `${REPO_ROOT}/bin/rackhand.js`;

let daemon: RackhandProcess;
beforeAll(async () => {
  await buildCli();
  daemon = await startRackhand({ config: { log: { level: 'warn' }, bmc: { sync: { enabled: false } }, sensors: { enabled: false } } });
}, 120_000);
afterAll(async () => {
  await daemon?.cleanup();
});

/** Runs `node bin/rackhand.js …` with the daemon's environment (state dir, config). */
function rackhand(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, RACKHAND_STATE_DIR: daemon.stateDir, RACKHAND_CONFIG: `${daemon.stateDir}/test-config.json`, RACKHAND_HTTP_LISTEN: '127.0.0.1:0', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('one daemon per state dir', () => {
  it('a second serve on the same state dir refuses in one line naming the first one\'s PID', () => {
    const second = rackhand(['serve']);
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`(PID ${daemon.child().pid})`);
    expect(lines[0]).toContain(daemon.stateDir);
    expect(second.stdout).not.toMatch(/listening/);
  });

  it('bootstrap commands work beside the running daemon, which sees what they wrote', async () => {
    const made = rackhand(['token', 'create', '--role', 'admin', '--name', 'beside-the-daemon']);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    const api = apiClient(() => daemon.url, token);
    expect((await api.get('/api/v1/whoami')).status).toBe(200);
    const imported = await api.post('/api/v1/servers/import', [{ id: 7001, name: 'via-api' }]);
    expect(imported.status, imported.text).toBeLessThan(300);
    const listed = rackhand(['servers', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('via-api');
    // an import written by the CLI is what the daemon answers with next
    const csv = `${daemon.stateDir}/beside.csv`;
    fs.writeFileSync(csv, 'id,name,rack,mac\n7002,via-cli,R9,52:54:00:00:70:02\n');
    const imported2 = rackhand(['servers', 'import', csv]);
    expect(imported2.code, imported2.stderr).toBe(0);
    expect((await api.get('/api/v1/servers/7002')).json).toMatchObject({ name: 'via-cli', rack: 'R9' });
    const backup = rackhand(['backup', `${daemon.stateDir}/copy.db`]);
    expect(backup.code, backup.stderr).toBe(0);
  });

  it('a daemon killed with SIGKILL leaves no lock behind: the next serve starts', async () => {
    await daemon.kill9();
    const next = await startRackhand({ stateDir: daemon.stateDir, config: { log: { level: 'warn' } } });
    try {
      expect((await fetch(`${next.url}/healthz`)).status).toBe(200);
      expect(next.child().pid).not.toBe(daemon.child().pid);
    } finally {
      await next.cleanup();
    }
  });
});

/** Resolves with the first output line of the daemon matching `re` from now on. */
function nextLine(d: RackhandProcess, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = d.child();
    let buf = '';
    const timer = setTimeout(() => done(new Error(`no line matching ${re} within 20 s:\n${d.output().slice(-2000)}`)), 20_000);
    const onData = (b: Buffer) => {
      buf += b;
      const line = buf.split('\n').find((l) => re.test(l));
      if (line) done(undefined, line);
    };
    const onExit = (code: number | null, sig: string | null) => done(new Error(`daemon exited (${code ?? sig}) waiting for ${re}`));
    const done = (err?: Error, line?: string) => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

describe('signals', () => {
  const base = { bmc: { sync: { enabled: false } }, sensors: { enabled: false } };
  let d: RackhandProcess;
  beforeAll(async () => {
    d = await startRackhand({ config: { ...base, log: { level: 'warn' }, site: { name: 'before' } } });
  });
  afterAll(async () => {
    await d?.cleanup();
  });
  const configFile = () => `${d.stateDir}/test-config.json`;

  it('SIGHUP applies the log level and says in one line what needs a restart', async () => {
    fs.writeFileSync(configFile(), JSON.stringify(testConfig({ ...base, log: { level: 'info' }, site: { name: 'after' } })));
    const line = nextLine(d, /configuration reloaded/);
    d.child().kill('SIGHUP');
    // The line is logged at info: it shows only because the daemon now logs at info, not warn.
    const entry = JSON.parse(await line);
    expect(entry.msg).toBe('configuration reloaded (SIGHUP): applied log.level ("warn" → "info"); needs a restart: site.name ("before" → "after")');
    expect(entry).toMatchObject({ applied: ['log.level'], needsRestart: ['site.name'] });
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
  });

  it('SIGHUP with a broken file changes nothing and names the problem', async () => {
    fs.writeFileSync(configFile(), '{"log": {"level": "debug"}, "site": {"nme": "x"}}');
    const line = nextLine(d, /configuration not reloaded/);
    d.child().kill('SIGHUP');
    const entry = JSON.parse(await line);
    expect(entry.msg).toBe(`configuration not reloaded, the running one stays: ${configFile()}:1: site.nme: unknown key (did you mean name?)`);
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    // still at info, not the file's debug: a debug line would show as level 20
    fs.writeFileSync(configFile(), JSON.stringify(testConfig({ ...base, log: { level: 'info' }, site: { name: 'before' } })));
    const again = nextLine(d, /configuration reloaded/);
    d.child().kill('SIGHUP');
    expect(JSON.parse(await again).msg).toBe('configuration reloaded (SIGHUP): nothing changed');
  });

  it('SIGTERM stops the daemon cleanly (exit 0) and says so', async () => {
    const line = nextLine(d, /stopping \(SIGTERM\)/);
    const exited = new Promise<number | null>((r) => d.child().once('exit', (code) => r(code)));
    d.child().kill('SIGTERM');
    expect(JSON.parse(await line).msg).toMatch(/^stopping \(SIGTERM\): running BMC operations finish first/);
    expect(await exited).toBe(0);
  });
});

describe('a SIGHUP during start-up', () => {
  it('is applied once the daemon runs: neither fatal nor lost', async () => {
    const stateDir = fs.mkdtempSync(`${os.tmpdir()}/rackhand-hup-`);
    const configFile = `${stateDir}/test-config.json`;
    const base = { bmc: { sync: { enabled: false } }, sensors: { enabled: false }, log: { level: 'info' } };
    fs.writeFileSync(configFile, JSON.stringify(testConfig({ ...base, site: { name: 'before' } })));
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...process.env, RACKHAND_STATE_DIR: stateDir, RACKHAND_CONFIG: configFile, RACKHAND_HTTP_LISTEN: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b) => (out += b));
    child.stderr!.on('data', (b) => (out += b));
    const exited = new Promise<string>((r) => child.once('exit', (code, sig) => r(String(code ?? sig))));
    try {
      // The lock is taken after the handler is set and before the agent starts: the signal lands mid-start.
      const lock = `${stateDir}/${LOCK_FILE_NAME}`;
      await expect.poll(() => fs.existsSync(lock) && fs.readFileSync(lock, 'utf8').trim() === String(child.pid), { timeout: 30_000, interval: 2 }).toBe(true);
      fs.writeFileSync(configFile, JSON.stringify(testConfig({ ...base, site: { name: 'after' } })));
      child.kill('SIGHUP');
      const reloaded = () => out.split('\n').find((l) => l.includes('configuration reloaded'));
      await expect.poll(reloaded, { timeout: 30_000 }).toBeTruthy();
      expect(JSON.parse(reloaded()!).msg).toBe('configuration reloaded (SIGHUP): nothing applied; needs a restart: site.name ("before" → "after")');
      expect(out).toMatch(/listening on/);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
