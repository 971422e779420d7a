// The technician CLI as a real process (`node bin/rackhand.js …`) against the real rackhand agent (simulated BMCs).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connection } from '../../src/cli/tech-cli.js';
import { findCommand } from '../../src/cli/command-table.js';
import { DEPLOY_STEPS, type TestSite } from '../web/test-site.js';
import { startCliSite, type CliRunner } from './tech-cli-runner.js';
import { freePort } from '../console/console-peers.js';

let site: TestSite;
let cli: CliRunner;
let home: string;
let env: Record<string, string | undefined>;
let closeSite: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ site, cli, home, env, close: closeSite } = await startCliSite('tech'));
}, 120_000);
afterAll(async () => {
  await closeSite?.();
});

const run = (args: string[], extra: Record<string, string | undefined> = {}) => cli.run(args, { ...env, ...extra });

describe('rackhand tech commands over HTTP', () => {
  it('finds each command in the table: state-dir commands apart from the API ones', () => {
    const via = (words: string[]) => {
      const c = findCommand(words);
      return c && `${c.name}:${c.via}`;
    };
    expect(via(['servers', 'list'])).toBe('servers list:state');
    expect(via(['servers', 'import', 'x.json'])).toBe('servers import:state');
    expect(via(['servers', 'a01'])).toBe('servers:api');
    expect(via(['token', 'create'])).toBe('token create:state');
    expect(via(['serve'])).toBe('serve:state');
    expect(via(['bmc', 'reset', '1001'])).toBe('bmc reset:api');
    expect(via(['token'])).toBeUndefined();
    expect(via([])).toBeUndefined();
  });

  it('servers: all, by rack, by MAC, by IP; a table or JSON', async () => {
    const all = await run(['servers']);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+RACK\s+POWER\s+READ\s+BMC\s+STATUS\s+IP$/);
    expect(lines).toHaveLength(13);
    const rack = JSON.parse((await run(['servers', 'A02', '--json'])).stdout);
    expect(rack.total).toBe(6);
    expect(rack.servers.every((s: { rack: string }) => s.rack === 'A02')).toBe(true);
    const byMac = JSON.parse((await run(['servers', '02:de:00:00:01:03', '--json'])).stdout);
    expect(byMac.servers.map((s: { id: number }) => s.id)).toEqual([1003]);
    const byIp = await run(['servers', '192.0.2.15']);
    expect(byIp.stdout).toContain('demo-a01-09');
  });

  it('power on follows the task to success; the server reads on afterwards', async () => {
    const r = await run(['power', 'on', '1003']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/✓ power on/);
    expect(r.stdout).toMatch(/task \d+ \(power\) succeeded/);
    const s = JSON.parse((await run(['servers', '02:de:00:00:01:03', '--json'])).stdout).servers[0];
    expect(s.power.state).toBe('on');
    expect(s.power.readAt).not.toBeNull();
  });

  it('power off --no-wait answers with the task at once; watch follows it (exit 0)', async () => {
    const r = await run(['power', 'off', '1003', '--no-wait', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const task = JSON.parse(r.stdout);
    expect(task).toMatchObject({ kind: 'power', serverId: 1003 });
    const w = await run(['watch', String(task.id)]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(new RegExp(`task ${task.id} \\(power\\) succeeded`));
    const wj = await run(['watch', String(task.id), '--json']);
    const last = JSON.parse(wj.stdout.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ id: task.id, state: 'succeeded', result: { power: 'off' } });
  });

  it('a failing task exits 1 with its error code', async () => {
    site.driver.injectFault(site.bmcKey(1011), { kind: 'unreachable' });
    const r = await run(['power', 'reboot', '1011']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/failed: BMC_UNREACHABLE/);
  });

  it('watch shows a real deploy live and ends when the task does', async () => {
    const res = await fetch(`${site.url}/api/v1/servers/1007/reinstall`, {
      method: 'POST',
      headers: { authorization: `Bearer ${site.tokens.tech}`, 'content-type': 'application/json' },
      body: JSON.stringify({ os_id: 1, root_pass: 'Correct-horse-battery-9' }),
    });
    expect(res.status).toBe(202);
    const task = (await res.json()) as { id: number };
    let released: Promise<Response> | undefined;
    const w = await cli.run(['watch', String(task.id)], env, (out) => {
      // The deploy waits on the installer until the watcher has shown that step: the display is live.
      if (!released && out.includes('… wait for installer callback')) released = site.installerCallback(1007);
    });
    expect(released).toBeDefined();
    expect((await released!).status).toBe(200);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(new RegExp(`task ${task.id} \\(deploy\\) succeeded`));
    const steps = w.stdout.split('\n').filter((l) => /[…✓✗·] /.test(l)).map((l) => l.replace(/^\S+\s+/, ''));
    const names = DEPLOY_STEPS;
    expect(steps).toEqual(names.flatMap((n) => [`… ${n}`, `✓ ${n}`]));
    expect(site.agent.core.netboot.state(1007)).toBeUndefined();
    expect(site.bmcOf(1007).boot).toEqual({ device: 'disk', mode: 'legacy', persistent: true });
  });

  it('boot sets the device through the BMC', async () => {
    const r = await run(['boot', '1004', 'pxe', '--mode', 'uefi', '--persistent']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(site.bmcOf(1004).boot).toEqual({ device: 'pxe', mode: 'uefi', persistent: true });
    expect((await run(['boot', '1004', 'floppy'])).code).toBe(2);
  });

  it('sensors prints every reading with its status and thresholds', async () => {
    const r = await run(['sensors', '1005']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^SENSOR\s+VALUE\s+UNIT\s+STATUS\s+THRESHOLDS$/);
    expect(r.stdout.split('\n')[1]).toMatch(/^Inlet Temp\s+83\s+degrees C\s+WARNING\s+warn>80 crit>90$/);
    expect(r.stdout).toMatch(/CPU1 Temp\s+\d+\s+degrees C\s+ok/);
    const j = JSON.parse((await run(['sensors', '1005', '--json'])).stdout);
    expect(j.sensors.map((s: { name: string }) => s.name)).toContain('FAN1');
  });

  it('console prints the absolute URL of the console page', async () => {
    const r = await run(['console', '1006']);
    expect(r.code, r.stderr).toBe(0);
    const url = new URL(r.stdout.trim());
    expect(url.origin).toBe(site.url);
    expect(url.pathname).toBe('/console/');
    expect(url.searchParams.get('name')).toBe('demo-a01-11');
    expect(url.hash).toMatch(/^#ticket=/);
    expect(JSON.parse((await run(['console', '1006', '--json'])).stdout).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/console\//);
    // each run opened a real console session for the server
    const sessions = await fetch(`${site.url}/api/v1/servers/1006/console/sessions`, { headers: { authorization: `Bearer ${site.tokens.tech}` } });
    expect(((await sessions.json()) as { list: unknown[] }).list).toHaveLength(2);
  });

  it('tasks lists newest first, filtered by server', async () => {
    const j = JSON.parse((await run(['tasks', '--server', '1003', '--json'])).stdout);
    expect(j.tasks.length).toBeGreaterThanOrEqual(2);
    expect(j.tasks.every((t: { serverId: number }) => t.serverId === 1003)).toBe(true);
    const human = await run(['tasks', '--limit', '3']);
    expect(human.stdout.split('\n')[0]).toMatch(/^ID\s+KIND\s+SERVER\s+STATE\s+CREATED\s+ERROR$/);
    expect(human.stdout.trim().split('\n')).toHaveLength(4);
  });

  it('discovered lists the MACs that asked to boot', async () => {
    const r = await run(['discovered']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('02:de:00:00:ff:01');
    expect(JSON.parse((await run(['discovered', '--json'])).stdout).list).toHaveLength(2);
  });
});

describe('where the address and token come from', () => {
  it('reads ~/.config/rackhand/cli.json when neither flags nor env say', async () => {
    fs.mkdirSync(path.join(home, '.config/rackhand'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config/rackhand/cli.json'), JSON.stringify({ url: site.url, token: site.tokens.tech }), { mode: 0o600 });
    const r = await run(['servers', '--json'], { RACKHAND_URL: undefined, RACKHAND_TOKEN: undefined });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).total).toBe(12);
    fs.rmSync(path.join(home, '.config/rackhand/cli.json'));
  });

  it('flags win over env; env wins over the file', () => {
    expect(connection({ token: 'flag' }, { RACKHAND_TOKEN: 'env', RACKHAND_URL: 'http://h:1/', HOME: home })).toEqual({ url: 'http://h:1', token: 'flag' });
    expect(connection({ url: 'http://x:2' }, { RACKHAND_TOKEN: 'env', RACKHAND_URL: 'http://h:1', HOME: home })).toEqual({ url: 'http://x:2', token: 'env' });
  });

  it('no token, a bad token, an unknown server, bad usage, nobody listening: clear errors and exit codes', async () => {
    const none = await run(['servers'], { RACKHAND_TOKEN: undefined });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no token/);
    const bad = await run(['servers', '--token', 'rh_wrong']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/UNAUTHORIZED/);
    const missing = await run(['power', 'on', '99999']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND: server 99999 not found/);
    expect((await run(['power', 'sideways', '1001'])).code).toBe(2);
    expect((await run(['sensors', 'abc'])).code).toBe(2);
    expect((await run(['tasks', '--bogus'])).code).toBe(2);
    // a loopback port nothing listens on (port 9 would be refused by fetch itself as a "bad port")
    const down = await run(['servers', '--url', `http://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach rackhand/);
  });
});
