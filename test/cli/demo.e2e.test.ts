// `rackhand serve --demo` (npm run demo) as a newcomer runs it: the printed tech token works, and a reinstall of a
// demo server runs to the end — its simulated host plays the booted host's part over rackhand's boot routes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, REPO_ROOT } from '../harness/rackhand-process.js';

let proc: ChildProcess;
let dir: string;
let url = '';
let tech = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), `rh-demo-${process.pid}-`));
  proc = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/rackhand.js'), 'serve', '--demo'], {
    env: { ...process.env, RACKHAND_STATE_DIR: dir, RACKHAND_HTTP_LISTEN: '127.0.0.1:0', RACKHAND_BMC_SIMULATED_DELAY_MS: '5', RACKHAND_BOOT_REBOOT_GRACE_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`demo did not start:\n${out}`)), 60_000);
    const on = (b: Buffer) => {
      out += b.toString();
      const m = /open (http:\/\/\S+)\/ and log in with the tech token\s+(\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        url = m[1];
        tech = m[2];
        resolve();
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
  });
}, 90_000);

afterAll(() => {
  proc?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the demo', () => {
  it('reinstalls a server to the end: the simulated host fetches its job and reports', async () => {
    const api = apiClient(() => url, tech);
    const os = (await api.get('/api/v1/os')).json.list;
    expect(os.filter((o: any) => o.ready).map((o: any) => o.os_id)).toEqual(expect.arrayContaining(['demo-linux', 'debian-12', 'diagnostics']));
    const r = await api.post('/api/v1/servers/1001/reinstall', { os_id: 800, root_pass: 'Demo-Root-1', hostname: 'web-demo' });
    expect(r.status, r.text).toBe(202);
    let t: any;
    for (let i = 0; i < 240; i++) {
      t = (await api.get(`/api/v1/tasks/${r.json.id}`)).json;
      if (t.state !== 'running' && t.state !== 'queued') break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(t.state, JSON.stringify(t.steps)).toBe('succeeded');
    expect(t.steps.map((s: any) => s.name)).toEqual(expect.arrayContaining(['host: stream image', 'host: configure system', 'reboot into the installed system']));
  }, 120_000);
});
