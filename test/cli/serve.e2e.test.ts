// `rackhand serve` as an operator meets it: one daemon per state dir, bootstrap commands beside it.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, REPO_ROOT, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
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
