// The operator's mistakes as `node bin/rackhand.js …` meets them: each is one line that says what to do, never a
// stack trace, and nothing is created where the operator did not mean it.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openState } from '../../src/agent.js';
import { parseConfig } from '../../src/config.js';
import { REPO_ROOT } from '../harness/rackhand-process.js';
import { buildCli } from './tech-cli-runner.js';

const BIN = path.join(REPO_ROOT, 'bin/rackhand.js');
const temp: string[] = [];
const tempDir = (what = 'x') => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-op-${what}-${process.pid}-`));
  temp.push(d);
  return d;
};

/** Where the commands run: a fresh directory, so the default ./var is nobody's site. */
let workDir: string;
beforeAll(async () => {
  await buildCli();
  workDir = tempDir('cwd');
}, 120_000);
afterAll(() => {
  for (const d of temp) fs.rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function rackhand(args: string[], env: Record<string, string> = {}, prefix: string[] = []): Run {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RACKHAND_')));
  const cmd = [...prefix, process.execPath, BIN, ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...base, RACKHAND_HTTP_LISTEN: '127.0.0.1:0', ...env }, encoding: 'utf8', timeout: 60_000, cwd: workDir });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The failure is exactly one `rackhand: …` line on stderr with no stack trace. */
function expectOneLine(r: Run, pattern: RegExp): string {
  expect(r.code, r.stdout + r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^rackhand: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return lines[0];
}

/** A site as serve leaves it: database, key, one token. */
function existingSite(): string {
  const dir = tempDir('site');
  const state = openState(parseConfig({ stateDir: dir }));
  state.repos.tokens.create({ name: 'first', role: 'admin' });
  state.db.close();
  return dir;
}

function writeFile(name: string, text: string): string {
  const f = path.join(tempDir('file'), name);
  fs.writeFileSync(f, text);
  return f;
}

describe('config check', () => {
  it('prints every problem with file:line and "did you mean", exit 1', () => {
    const f = writeFile('rackhand.yaml', 'site:\n  nme: ams1\nhttp:\n  listen: 0.0.0.0:80\n  bodyLimitBytes: -5\n');
    const r = rackhand(['config', 'check', '--config', f]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([`${f}:2: site.nme: unknown key (did you mean name?)`, expect.stringMatching(new RegExp(`^${f}:5: http\\.bodyLimitBytes: .*got -5$`))]);
    expect(r.stderr.trim()).toBe('rackhand: 2 configuration problems');
  });

  it('prints "ok" and the effective configuration with credentials hidden', () => {
    const f = writeFile('rackhand.yaml', 'site:\n  name: ams1\nhttp:\n  publicUrl: http://admin:hunter2@rackhand.example:8080/\n');
    const r = rackhand(['config', 'check', '--config', f], { RACKHAND_LOG_LEVEL: 'debug' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('ok');
    expect(r.stdout).toContain(`# effective configuration: embedded defaults, ${f}, RACKHAND_HTTP_LISTEN, RACKHAND_LOG_LEVEL`);
    expect(r.stdout).toMatch(/^ {2}name: ams1$/m);
    expect(r.stdout).toMatch(/^ {2}level: debug$/m);
    expect(r.stdout).toContain('admin:[hidden]@rackhand.example');
    expect(r.stdout).not.toContain('hunter2');
  });

  it('serve with a YAML syntax error: one line with file, line and column', () => {
    const f = writeFile('rackhand.yaml', 'site:\n  name: ams1\nhttp:\n  listen: "127.0.0.1:8080\nlog:\n  level: info\n');
    expectOneLine(rackhand(['serve', '--config', f, '--state-dir', tempDir('state')]), new RegExp(`^rackhand: ${f}:4:11: YAML syntax error: Missing closing "quote`));
  });
});

describe('the state dir', () => {
  it('a state-dir command on a mistyped dir refuses, creates nothing, and names where the site is', () => {
    const site = existingSite();
    const parent = path.dirname(site);
    const typo = path.join(parent, 'no-such-state-dir');
    const line = expectOneLine(rackhand(['token', 'create', '--role', 'admin', '--state-dir', typo]), /no rackhand database in .*no-such-state-dir \(looked for .*rackhand\.db\): point at the daemon's state dir with --state-dir DIR or RACKHAND_STATE_DIR/);
    expect(fs.existsSync(typo)).toBe(false);
    // the demo's state dir under the default one is found and named
    const demoParent = tempDir('var');
    fs.renameSync(site, path.join(demoParent, 'demo'));
    expect(expectOneLine(rackhand(['token', 'list'], { RACKHAND_STATE_DIR: demoParent }), /there is one in /)).toContain(path.join(demoParent, 'demo'));
    expect(fs.existsSync(path.join(demoParent, 'rackhand.db'))).toBe(false);
    expect(fs.existsSync(path.join(demoParent, 'secret.key'))).toBe(false);
    expect(line).not.toContain('there is one');
  });

  it('a state-dir command finds the site through --state-dir and RACKHAND_STATE_DIR', () => {
    const site = existingSite();
    expect(rackhand(['token', 'list', '--state-dir', site]).stdout).toMatch(/\tadmin\tfirst\tactive/);
    expect(rackhand(['token', 'list'], { RACKHAND_STATE_DIR: site }).stdout).toMatch(/\tadmin\tfirst\tactive/);
  });

  it('a database without its key file is refused, by serve too: no new key is made', () => {
    const site = existingSite();
    fs.renameSync(path.join(site, 'secret.key'), path.join(site, 'secret.key.bak'));
    expectOneLine(rackhand(['token', 'list', '--state-dir', site]), /holds a database but its key file .*secret\.key is missing: restore the key/);
    expectOneLine(rackhand(['serve', '--state-dir', site]), /holds a database but its key file .*secret\.key is missing/);
    expect(fs.existsSync(path.join(site, 'secret.key'))).toBe(false);
  });

  it('a key file readable by others: one line with the chmod to run', () => {
    const site = existingSite();
    fs.chmodSync(path.join(site, 'secret.key'), 0o644);
    expectOneLine(rackhand(['token', 'list', '--state-dir', site]), new RegExp(`key file ${site}/secret\\.key is readable by group or others \\(mode 0644\\): chmod 600 ${site}/secret\\.key$`));
    expectOneLine(rackhand(['serve', '--state-dir', site]), /chmod 600/);
  });

  it('a state dir the user cannot write: one line naming the user', () => {
    const site = existingSite();
    fs.chmodSync(path.dirname(site), 0o755);
    const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    expectOneLine(rackhand(['serve', '--state-dir', site], {}, asNobody), new RegExp(`state dir ${site} is not writable by uid 65534 \\(nobody\\)`));
    const fresh = path.join(site, 'new');
    expectOneLine(rackhand(['serve', '--state-dir', fresh], {}, asNobody), new RegExp(`cannot create the state dir ${fresh}: permission denied: create it for uid 65534`));
  });

  it('serve creates a new site only where nothing exists, and says so in one log line', async () => {
    const dir = path.join(tempDir('fresh'), 'site');
    const first = await serveOnce(dir);
    const newSite = first.split('\n').filter((l) => l.includes('new site'));
    expect(newSite).toHaveLength(1);
    expect(JSON.parse(newSite[0])).toMatchObject({ msg: 'new site: created an empty database and a new key file', stateDir: dir });
    // the first-token hint names this state dir, so it works when pasted
    expect(first).toContain(`no API token yet: create one with  rackhand token create --role admin --state-dir ${path.relative(workDir, dir)}`);
    expect(await serveOnce(dir)).not.toContain('new site');
  });
});

describe('one line for what goes wrong', () => {
  it('port in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = rackhand(['serve', '--state-dir', path.join(tempDir('port'), 's')], { RACKHAND_HTTP_LISTEN: `127.0.0.1:${port}` });
      expectOneLine(r, new RegExp(`^rackhand: cannot listen on 127\\.0\\.0\\.1:${port} \\(TCP\\): another program already uses it .*set http\\.listen / RACKHAND_HTTP_LISTEN`));
    } finally {
      blocker.close();
    }
  });

  it('a boot port (TFTP, UDP) in use', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()));
    const port = blocker.address().port;
    try {
      const r = rackhand(['serve', '--state-dir', path.join(tempDir('udp'), 's')], { RACKHAND_BOOT_TFTP_ENABLED: 'true', RACKHAND_BOOT_TFTP_LISTEN: `127.0.0.1:${port}` });
      expectOneLine(r, new RegExp(`^rackhand: BOOT_ERROR: TFTP cannot listen on 127\\.0\\.0\\.1:${port}: .*\\(another program already uses it; ss -lntup shows which: stop it or change the address in the configuration\\)$`));
    } finally {
      blocker.close();
    }
  });

  it('backup to a directory that does not exist: one line, and nothing written', () => {
    const site = existingSite();
    const target = path.join(tempDir('backup'), 'missing', 'rackhand.db');
    expectOneLine(rackhand(['backup', target, '--state-dir', site]), new RegExp(`the directory ${path.dirname(target)} does not exist \\(mkdir -p`));
    expect(fs.existsSync(path.dirname(target))).toBe(false);
    const ok = rackhand(['backup', path.join(path.dirname(path.dirname(target)), 'b.db'), '--state-dir', site]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('a short CSV row: one line with the file and its line number', () => {
    const site = existingSite();
    const csv = writeFile('servers.csv', 'id,name,rack,mac\n1,a,R1,52:54:00:00:00:01\n2,b\n');
    expectOneLine(rackhand(['servers', 'import', csv, '--state-dir', site]), new RegExp(`${csv} line 3: 2 fields, the header has 4`));
    expect(rackhand(['servers', 'list', '--state-dir', site]).stdout).toBe('');
  });

  it('bad rows: every one at once, by file line and id, naming the column and its value (never a password)', () => {
    const site = existingSite();
    const csv = writeFile('servers.csv', 'id,name,rack,rack_position,mac,bmc_host,bmc_username,bmc_password\n1,a,R1,abc,52:54:00:00:00:01,,,\n\n2,b,R1,3,not-a-mac,10.0.0.1,,hunter2\n3,c,R1,4,52:54:00:00:00:03,,,\n');
    const r = rackhand(['servers', 'import', csv, '--state-dir', site]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `rackhand: ${csv} line 2 (id 1): rack_position: expected number, received string, got "abc"`,
      `rackhand: ${csv} line 4 (id 2): mac: not a MAC address, got "not-a-mac"`,
      `rackhand: ${csv} line 4 (id 2): bmc_username: expected string, received undefined`,
      'rackhand: nothing was imported (3 problems)',
    ]);
    expect(r.stderr).not.toContain('hunter2');
    expect(rackhand(['servers', 'list', '--state-dir', site]).stdout).toBe('');
    const json = writeFile('servers.json', JSON.stringify([{ id: 5, name: 'ok' }, { id: 6, name: 'x', status: 'sideways' }]));
    expect(rackhand(['servers', 'import', json, '--state-dir', site]).stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^rackhand: ${json} item 2 \\(id 6\\): status: expected one of .*, got "sideways"$`)),
      'rackhand: nothing was imported (1 problem)',
    ]);
  });

  it('an import file that is not there, or not JSON', () => {
    const site = existingSite();
    expectOneLine(rackhand(['servers', 'import', '/nonexistent/servers.csv', '--state-dir', site]), /\/nonexistent\/servers\.csv: no such file or directory/);
    expectOneLine(rackhand(['servers', 'import', writeFile('s.json', '[{"id": 1,}]'), '--state-dir', site]), /s\.json: not valid JSON/);
    const typo = writeFile('typo.csv', 'id,name,bmc_host,bmc_username,bmc_pasword\n1,a,10.0.0.1,ADMIN,secret\n');
    expectOneLine(rackhand(['servers', 'import', typo, '--state-dir', site]), /typo\.csv line 1: unknown column bmc_pasword \(did you mean bmc_password\?\)/);
    expect(rackhand(['servers', 'list', '--state-dir', site]).stdout).toBe('');
  });
});

/** Starts serve on a state dir (no token yet), waits for its first-token hint, stops it with SIGTERM; returns its output. */
function serveOnce(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RACKHAND_')));
    const p = spawn(process.execPath, [BIN, 'serve', '--state-dir', dir], { env: { ...base, RACKHAND_HTTP_LISTEN: '127.0.0.1:0', RACKHAND_BMC_SYNC_ENABLED: 'false' }, cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    const onData = (b: Buffer) => {
      out += b;
      if (/no API token yet.*\n/.test(out)) p.kill('SIGTERM');
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('error', reject);
    p.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}
