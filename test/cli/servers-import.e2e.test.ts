// `rackhand servers import` as an operator runs it on the state dir: a partial CSV merges into what is stored,
// --dry-run prints the diff and writes nothing, --replace resets what a row does not give.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openState } from '../../src/agent.js';
import { parseConfig } from '../../src/config.js';
import { REPO_ROOT } from '../harness/rackhand-process.js';
import { buildCli } from './tech-cli-runner.js';

let dir: string;
const rackhand = (...args: string[]) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RACKHAND_')));
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/rackhand.js'), ...args, '--state-dir', dir], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
/** The stored server, read from the state dir as the daemon would. */
function stored(id: number) {
  const state = openState(parseConfig({ stateDir: dir }));
  try {
    return { server: state.repos.servers.get(id), bmcPassword: state.repos.servers.get(id)?.bmc ? state.repos.servers.bmcTarget(id).password : undefined };
  } finally {
    state.db.close();
  }
}

beforeAll(async () => {
  await buildCli();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-import-${process.pid}-`));
  openState(parseConfig({ stateDir: dir })).db.close(); // a site, as serve leaves it
  const first = rackhand(
    'servers',
    'import',
    file('full.csv', 'id,name,status,rack,rack_position,mac,ip,bmc_host,bmc_username,bmc_password\n7,srv-7,rent,R1,4,52:54:00:00:00:07,10.0.0.7,10.9.0.7,ADMIN,bmc-Secret-7\n'),
  );
  expect(first.code, first.stderr).toBe(0);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('servers import on the state dir', () => {
  it('--dry-run prints what would change, field by field (a password only as changed), and writes nothing', () => {
    const before = stored(7);
    const csv = file('partial.csv', 'id,rack,bmc_password\n7,R2,bmc-New-Secret\n');
    const r = rackhand('servers', 'import', csv, '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'server 7 srv-7: update',
      '  rack: "R1" → "R2"',
      '  bmc.password: (stored) → (new value)',
      'dry run (merge): 0 to create, 1 to update, 0 unchanged; nothing was written',
    ]);
    expect(r.stdout + r.stderr).not.toContain('bmc-New-Secret');
    expect(stored(7)).toEqual(before);
    const json = rackhand('servers', 'import', csv, '--dry-run', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ dry_run: true, created: 0, updated: 1, servers: [{ id: 7, action: 'update' }] });
  });

  it('a partial CSV row merges: rack and BMC password change, status, interfaces, position and the BMC login stay', () => {
    const r = rackhand('servers', 'import', path.join(dir, 'partial.csv'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('imported: 0 created, 1 updated');
    const { server, bmcPassword } = stored(7);
    expect(server).toMatchObject({
      name: 'srv-7',
      status: 'rent',
      rack: 'R2',
      rackPosition: 4,
      interfaces: [{ mac: '52:54:00:00:00:07', ip: '10.0.0.7' }],
      bmc: { host: '10.9.0.7', username: 'ADMIN', passwordSet: true },
    });
    expect(bmcPassword).toBe('bmc-New-Secret');
  });

  it('--replace: what a row does not give takes its default', () => {
    const r = rackhand('servers', 'import', file('replace.csv', 'id,name,rack\n7,srv-7,R3\n'), '--replace');
    expect(r.code, r.stderr).toBe(0);
    expect(stored(7).server).toMatchObject({ rack: 'R3', status: 'free', rackPosition: null, interfaces: [], bmc: null });
  });

  it('a problem in a merged row names its line, id, column and value', () => {
    const r = rackhand('servers', 'import', file('bad.csv', 'id,rack,rack_position\n7,R4,\n8,R5,high\n'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `rackhand: ${dir}/bad.csv line 3 (id 8): name: required`,
      `rackhand: ${dir}/bad.csv line 3 (id 8): rack_position: expected number, received string, got "high"`,
      'rackhand: nothing was imported (2 problems)',
    ]);
    expect(stored(7).server?.rack).toBe('R3');
  });

  it('redfish BMCs: port 443 unless given, scheme and legacy TLS, boot_via; servers list --csv reads back through import unchanged', () => {
    const csv = file(
      'redfish.csv',
      'id,name,mac,ip,bmc_driver,bmc_host,bmc_username,bmc_password,bmc_scheme,bmc_legacy_tls,boot_via\n' +
        '20,rf-20,52:54:00:00:00:20,10.0.0.20,redfish,10.9.0.20,root,rf-Secret-20,,,virtual_media\n' +
        '21,rf-21,52:54:00:00:00:21,10.0.0.21,redfish,10.9.0.21,root,rf-Secret-21,https,yes,http\n' +
        '22,ipmi-22,52:54:00:00:00:22,10.0.0.22,ipmi,10.9.0.22,ADMIN,ipmi-Secret-22,,,\n',
    );
    const r = rackhand('servers', 'import', csv);
    expect(r.code, r.stderr).toBe(0);
    expect(stored(20).server).toMatchObject({ bootVia: 'virtual_media', bmc: { driver: 'redfish', port: 443, scheme: 'https', legacyTls: false } });
    expect(stored(21).server).toMatchObject({ bootVia: 'http', bmc: { driver: 'redfish', port: 443, legacyTls: true } });
    expect(stored(22).server).toMatchObject({ bootVia: 'pxe', bmc: { driver: 'ipmi', port: 623 } });
    // A port that was its driver's default follows a change of driver.
    const switched = rackhand('servers', 'import', file('switch.csv', 'id,bmc_driver\n22,redfish\n'));
    expect(switched.code, switched.stderr).toBe(0);
    expect(stored(22).server?.bmc).toMatchObject({ driver: 'redfish', port: 443 });

    const exported = rackhand('servers', 'list', '--csv');
    expect(exported.code, exported.stderr).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    expect(lines[0]).toContain('bmc_scheme,bmc_legacy_tls,console_host,console_port,console_password,boot_via');
    expect(lines.find((l) => l.startsWith('21,'))).toMatch(/,redfish,10\.9\.0\.21,443,root,,,3,https,1,,,,http$/);
    expect(exported.stdout).not.toMatch(/rf-Secret|ipmi-Secret/);
    const back = rackhand('servers', 'import', file('exported.csv', exported.stdout), '--dry-run');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout.trim().split('\n').at(-1)).toMatch(/0 to create, 0 to update, \d+ unchanged; nothing was written$/);
    expect(stored(21).bmcPassword).toBe('rf-Secret-21');

    const bad = rackhand('servers', 'import', file('bad-rf.csv', 'id,name,bmc_driver,bmc_host,bmc_username,bmc_scheme,bmc_legacy_tls,boot_via\n23,rf-23,redfish,10.9.0.23,root,ftp,maybe,usb\n'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/line 2 \(id 23\): bmc_scheme: .*"ftp"/);
    expect(bad.stderr).toMatch(/line 2 \(id 23\): bmc_legacy_tls: .*"maybe"/);
    expect(bad.stderr).toMatch(/line 2 \(id 23\): boot_via: .*"usb"/);
  });
});
