// The technician CLI's conventions and its newer commands, as a real process against the real agent:
// per-command help, bash completion, --json = the API's own JSON (errors too), reinstall, adopt, cancel,
// bmc reset, Ctrl-C while following, architectures by name.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestSite } from '../web/test-site.js';
import { REPO_ROOT, startCliSite, type CliRunner } from './tech-cli-runner.js';
import { freePort } from '../console/console-peers.js';

let site: TestSite;
let cli: CliRunner;
let home: string;
let env: Record<string, string | undefined>;
let closeSite: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ site, cli, home, env, close: closeSite } = await startCliSite('admin'));
}, 120_000);
afterAll(async () => {
  await closeSite?.();
});

const run = (args: string[], extra: Record<string, string | undefined> = {}, opts: Parameters<CliRunner['run']>[3] = {}) => cli.run(args, { ...env, ...extra }, undefined, opts);

/** The API's own answer to a request, for comparison with what --json prints. */
async function apiJson(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(site.url + p, {
    method,
    headers: { authorization: `Bearer ${site.tokens.admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

/** Exactly one JSON document on stdout. */
function onlyJson(stdout: string): any {
  const lines = stdout.trim().split('\n');
  expect(lines, stdout).toHaveLength(1);
  return JSON.parse(lines[0]);
}

describe('help per command', () => {
  it('`power --help` is the power command only; `token --help` its subcommands; `help reinstall` too', async () => {
    const power = await run(['power', '--help']);
    expect(power.code).toBe(0);
    expect(power.stdout.split('\n')[0]).toBe('usage: rackhand power on|off|reboot ID [--no-wait]');
    expect(power.stdout).toContain('--no-wait');
    expect(power.stdout).not.toMatch(/sensors|token create|reinstall/);
    const token = await run(['token', '--help']);
    expect(token.code).toBe(0);
    expect(token.stdout.match(/^usage: .*$/gm)).toEqual([
      'usage: rackhand token create [--role ROLE] [--name NAME] [--owner USER_ID] [--json]',
      'usage: rackhand token list [--json]',
      'usage: rackhand token revoke ID',
    ]);
    const reinstall = await run(['help', 'reinstall']);
    expect(reinstall.stdout).toMatch(/^usage: rackhand reinstall ID \[--os OS\] \[--root-pass-file FILE\]/);
    expect(reinstall.stdout).toContain('never goes on the command line');
    const unknownFlag = await run(['sensors', '1001', '--bogus']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr.trim()).toMatch(/^rackhand: Unknown option '--bogus'.*\(rackhand sensors --help\)$/);
  });
});

describe('bash completion', () => {
  const script = () => spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/rackhand.js'), 'completion', 'bash'], { encoding: 'utf8' }).stdout;
  /** What bash offers for the words typed so far (the last one being completed). */
  const complete = (file: string, words: string[]) => {
    const r = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _rackhand; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter(Boolean).sort();
  };

  it('completes commands, subcommands, flags and flag values from the command table', () => {
    const file = path.join(home, 'rackhand.bash');
    fs.writeFileSync(file, script());
    expect(complete(file, ['rackhand', 'po'])).toEqual(['power']);
    expect(complete(file, ['rackhand', 're'])).toEqual(['reinstall']);
    expect(complete(file, ['rackhand', 'power', ''])).toEqual(['off', 'on', 'reboot']);
    expect(complete(file, ['rackhand', 'token', ''])).toEqual(['create', 'list', 'revoke']);
    expect(complete(file, ['rackhand', 'bmc', ''])).toEqual(['forget-certificate', 'reset']);
    expect(complete(file, ['rackhand', 'servers', ''])).toEqual(['import', 'list']);
    expect(complete(file, ['rackhand', 'token', 'create', '--role', ''])).toEqual(['admin', 'central', 'client', 'tech']);
    expect(complete(file, ['rackhand', '--state-dir', '/tmp', 'token', 'create', '--r'])).toEqual(['--role']);
    expect(complete(file, ['rackhand', 'boot', '1001', 'pxe', '--mode', ''])).toEqual(['auto', 'legacy', 'uefi']);
    expect(complete(file, ['rackhand', 'reinstall', '1001', '--'])).toEqual(expect.arrayContaining(['--os', '--root-pass-file', '--yes', '--json', '--url']));
    expect(complete(file, ['rackhand', 'completion', ''])).toEqual(['bash']);
  });
});

describe('--json prints the API\'s own JSON, errors included', () => {
  it('lists and reads are byte-for-byte what the API answers', async () => {
    expect(onlyJson((await run(['servers', 'A02', '--json'])).stdout)).toEqual((await apiJson('GET', '/api/v1/servers?limit=200&q=A02')).json);
    expect(onlyJson((await run(['discovered', '--json'])).stdout)).toEqual((await apiJson('GET', '/api/v1/discovered')).json);
    expect(onlyJson((await run(['os', '--json'])).stdout)).toEqual((await apiJson('GET', '/api/v1/os')).json);
    expect(onlyJson((await run(['tasks', '--limit', '5', '--json'])).stdout)).toEqual((await apiJson('GET', '/api/v1/tasks?limit=5')).json);
    const console = onlyJson((await run(['console', '1006', '--json'])).stdout);
    expect(Object.keys(console).sort()).toEqual(['expires_at', 'key', 'session_id', 'url']);
  });

  it('a followed task prints only the final task, as GET /api/v1/tasks/:id returns it', async () => {
    const r = await run(['power', 'on', '1002', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const task = onlyJson(r.stdout);
    expect(task).toEqual((await apiJson('GET', `/api/v1/tasks/${task.id}`)).json);
    expect(task).toMatchObject({ kind: 'power', state: 'succeeded' });
  });

  it('an API error is the API\'s error body on stdout, exit 1; a usage error the same shape, exit 2', async () => {
    const r = await run(['power', 'on', '99999', '--json']);
    expect(r.code).toBe(1);
    expect(onlyJson(r.stdout)).toEqual((await apiJson('POST', '/api/v1/servers/99999/power', { action: 'on' })).json);
    expect(onlyJson(r.stdout).error.code).toBe('NOT_FOUND');
    const usage = await run(['power', 'sideways', '1001', '--json']);
    expect(usage.code).toBe(2);
    expect(onlyJson(usage.stdout)).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.stringContaining('power needs on, off or reboot, not sideways') } });
    const flag = await run(['power', 'on', '1001', '--bogus', '--json']);
    expect(flag.code).toBe(2);
    expect(onlyJson(flag.stdout).error.code).toBe('INVALID_INPUT');
    const down = await run(['servers', '--json', '--url', `http://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(1);
    expect(onlyJson(down.stdout)).toMatchObject({ error: { code: 'UNREACHABLE', message: expect.stringContaining('cannot reach rackhand') } });
    const noToken = await run(['servers', '--json'], { RACKHAND_TOKEN: undefined });
    expect(noToken.code).toBe(2);
    expect(onlyJson(noToken.stdout).error.message).toMatch(/no token/);
  });
});

describe('the commands a technician was missing', () => {
  it('reinstall: the password from stdin, never argv; refuses without --yes off a terminal; follows to success', async () => {
    const os = (await apiJson('GET', '/api/v1/os')).json.list[0];
    const unsure = await run(['reinstall', '1008', '--os', os.os_id, '--root-pass-file', '-'], {}, { input: 'Correct-horse-battery-9\n' });
    expect(unsure.code).toBe(2);
    expect(unsure.stderr).toMatch(/reinstall erases the server's disks: add --yes to confirm/);
    expect((await apiJson('GET', '/api/v1/tasks?server=1008')).json.tasks).toEqual([]);
    const typo = await run(['reinstall', '1008', '--os', `${os.os_id}x`, '--yes', '--root-pass-file', '-'], {}, { input: 'Correct-horse-battery-9\n' });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(`(did you mean ${os.os_id}?)`);
    const noPass = await run(['reinstall', '1008', '--os', os.os_id, '--yes']);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toMatch(/give it with --root-pass-file FILE/);

    let released: Promise<Response> | undefined;
    let argv = '';
    const r = await cli.run(['reinstall', '1008', '--os', os.name, '--yes', '--root-pass-file', '-'], env, (out) => {
      if (!released && out.includes('… wait for installer callback')) released = site.installerCallback(1008);
    }, {
      input: 'Correct-horse-battery-9\n',
      onStart: (child) => {
        argv = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
      },
    });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/task \d+ \(deploy\) succeeded/);
    expect(argv).not.toContain('correct-horse');
    expect((await released!).status).toBe(200);
  });

  it('cancel stops a running task; watch then shows it cancelled', async () => {
    const os = (await apiJson('GET', '/api/v1/os')).json.list[0];
    const started = await run(['reinstall', '1009', '--os', os.os_id, '--yes', '--root-pass-file', '-', '--no-wait', '--json'], {}, { input: 'Correct-horse-battery-9' });
    expect(started.code, started.stderr).toBe(0);
    const task = onlyJson(started.stdout);
    // wait until the deploy waits for its installer, then cancel it
    await cli.run(['watch', String(task.id)], env, (out) => {
      if (out.includes('… wait for installer callback')) void run(['cancel', String(task.id)]);
    });
    const after = (await apiJson('GET', `/api/v1/tasks/${task.id}`)).json;
    expect(after.state).toBe('cancelled');
    const again = await run(['cancel', String(task.id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/CONFLICT: task \d+ is cancelled; only a running task can be cancelled/);
    expect(site.agent.core.netboot.state(1009)).toBeUndefined();
  });

  it('bmc reset follows the reset until the BMC answers', async () => {
    // (the simulated BMC comes to life at the first call with the stored credentials: look at it afterwards)
    const r = await run(['bmc', 'reset', '1001']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/task \d+ \(\w+\) succeeded/);
    expect(site.bmcOf(1001).bmcResets).toBe(1);
  });

  it('discovered shows architectures by name; adopt makes one a server', async () => {
    const list = await run(['discovered']);
    expect(list.stdout).toMatch(/^02:de:00:00:ff:01\s+uefi-x64\s/m);
    expect(list.stdout).toMatch(/^02:de:00:00:ff:02\s+bios\s/m);
    const r = await run(['adopt', '02:DE:00:00:FF:02', '--id', '2001', '--name', 'adopted-01', '--rack', 'B01', '--rack-position', '7']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('adopted 02:DE:00:00:FF:02 as server 2001 (adopted-01)');
    const server = (await apiJson('GET', '/api/v1/servers/2001')).json;
    expect(server).toMatchObject({ name: 'adopted-01', rack: 'B01', rackPosition: 7 });
    expect((await run(['discovered'])).stdout).not.toContain('02:de:00:00:ff:02');
    const missing = await run(['adopt', '02:de:00:00:ff:99', '--id', '2002', '--name', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND: 02:de:00:00:ff:99 has not been discovered/);
  });

  it('Ctrl-C while following says the task keeps running and how to watch it again', async () => {
    const os = (await apiJson('GET', '/api/v1/os')).json.list[0];
    const task = onlyJson((await run(['reinstall', '1011', '--os', os.os_id, '--yes', '--root-pass-file', '-', '--no-wait', '--json'], {}, { input: 'Correct-horse-battery-9' })).stdout);
    let child: import('node:child_process').ChildProcess | undefined;
    const w = await cli.run(['watch', String(task.id)], env, (out) => {
      if (out.includes('… wait for installer callback')) child?.kill('SIGINT');
    }, { onStart: (c) => (child = c) });
    expect(w.code).toBe(130);
    expect(w.stderr.trim()).toBe(`stopped following task ${task.id} (deploy); the task keeps running on rackhand. Watch it again with: rackhand watch ${task.id}  (stop it with: rackhand cancel ${task.id})`);
    expect((await apiJson('GET', `/api/v1/tasks/${task.id}`)).json.state).toBe('running');
    expect((await site.installerCallback(1011)).status).toBe(200);
    const again = await run(['watch', String(task.id)]);
    expect(again.code).toBe(0);
  });
});
