// The install templates report to the agent-protocol URLs when the plan has one (and render exactly as before when it
// has not): d-i preseed commands, kickstart %pre/%post/%onerror, autoinstall early/late/error-commands; the
// commands they form are valid shell and the user-data is valid YAML.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildInstallPlan, renderInstallConfig, type InstallInput } from '../../src/boot/templates/install-plan.js';

const BASE = 'http://10.9.0.1:8080';
const TOKEN = 'tok-reporting-0123456789';
const AGENT = `${BASE}/boot/agent/${TOKEN}`;

function plan(osId: string, agent: boolean) {
  const input: InstallInput = {
    host: { serverId: 3, mac: '52:54:00:00:00:03', hostname: 'rep-test' },
    osId,
    params: { root_pass: 'Report-Pass-1', post_install_script: '#!/bin/sh\nexit 3\n' },
    urls: { base: BASE, callback: `${BASE}/api/v1/boot/callback`, ...(agent ? { agent: AGENT } : {}) },
    callbackToken: TOKEN,
  };
  return buildInstallPlan(input);
}

/** d-i joins "\" continuations; the command is then run by sh. */
function preseedCommand(preseed: string, key: string): string {
  const lines = preseed.split('\n');
  const i = lines.findIndex((l) => l.startsWith(`d-i ${key} string `));
  expect(i, key).toBeGreaterThanOrEqual(0);
  let cmd = lines[i].slice(`d-i ${key} string `.length);
  for (let j = i + 1; cmd.endsWith('\\'); j++) cmd = cmd.slice(0, -1) + lines[j];
  return cmd;
}

const shellOk = (cmd: string) => execFileSync('sh', ['-n', '-c', cmd], { encoding: 'utf8' });

describe('install templates report progress and failure to rackhand', () => {
  it('plan variables: agent_url, progress_url, result_url (empty without urls.agent)', () => {
    expect(plan('debian-12', true).vars).toMatchObject({ agent_url: AGENT, progress_url: `${AGENT}/progress`, result_url: `${AGENT}/result` });
    expect(plan('debian-12', false).vars).toMatchObject({ agent_url: '', progress_url: '', result_url: '' });
  });

  it('preseed: early, partman and late commands report; a failing post-install script reports POST_INSTALL_FAILED; valid shell', () => {
    const p = renderInstallConfig('preseed', plan('debian-12', true));
    expect(preseedCommand(p, 'preseed/early_command')).toContain(`'${AGENT}/progress?step=installer&state=started&message=preseed%20loaded'`);
    expect(preseedCommand(p, 'partman/early_command')).toContain(`'${AGENT}/progress?step=partition%20disks&state=started'`);
    const late = preseedCommand(p, 'preseed/late_command');
    expect(late).toContain(`${AGENT}/progress?step=configure%20system&state=started`);
    expect(late).toMatch(new RegExp(`if ! in-target .*; then +wget -q -O /dev/null '${AGENT}/result\\?ok=0&code=POST_INSTALL_FAILED&reason=[^' ]+' \\|\\| true; +exit 1; +fi;`));
    expect(late.indexOf('POST_INSTALL_FAILED')).toBeLessThan(late.indexOf(plan('debian-12', true).vars.callback_url));
    for (const k of ['preseed/early_command', 'partman/early_command', 'preseed/late_command']) shellOk(preseedCommand(p, k));
    const without = renderInstallConfig('preseed', plan('debian-12', false));
    expect(without).not.toMatch(/early_command|\/progress|\/result/);
    shellOk(preseedCommand(without, 'preseed/late_command'));
  });

  it('kickstart: %pre progress, %onerror INSTALL_FAILED, %post reports a failing post-install script; valid shell', () => {
    const ks = renderInstallConfig('kickstart', plan('rocky-9', true));
    const section = (name: string) => {
      const m = new RegExp(`^%${name}\\b[^\\n]*\\n([\\s\\S]*?)^%end$`, 'm').exec(ks);
      expect(m, name).not.toBeNull();
      return (m as RegExpExecArray)[1];
    };
    expect(section('pre')).toContain(`${AGENT}/progress?step=installer&state=started`);
    expect(section('onerror')).toContain(`${AGENT}/result?ok=0&code=INSTALL_FAILED`);
    expect(section('post')).toContain(`${AGENT}/result?ok=0&code=POST_INSTALL_FAILED`);
    for (const s of ['pre', 'onerror', 'post']) shellOk(section(s));
    expect(renderInstallConfig('kickstart', plan('rocky-9', false))).not.toMatch(/%pre|%onerror|\/progress/);
  });

  it('autoinstall user-data: early-commands, error-commands, late-commands report; valid YAML and shell', () => {
    const doc = parse(renderInstallConfig('user-data', plan('ubuntu-24.04', true))).autoinstall;
    expect(doc['early-commands']).toEqual([`wget -q -O /dev/null '${AGENT}/progress?step=installer&state=started&message=autoinstall%20loaded' || true`]);
    expect(doc['error-commands'][0]).toContain(`${AGENT}/result?ok=0&code=INSTALL_FAILED`);
    expect(doc['late-commands'].some((c: string) => c.includes('code=POST_INSTALL_FAILED'))).toBe(true);
    for (const c of [...doc['early-commands'], ...doc['error-commands'], ...doc['late-commands']]) shellOk(c);
    const without = parse(renderInstallConfig('user-data', plan('ubuntu-24.04', false))).autoinstall;
    expect(without['early-commands']).toBeUndefined();
    expect(without['error-commands']).toBeUndefined();
  });
});
