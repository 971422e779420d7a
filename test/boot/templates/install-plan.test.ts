// Building a host's install variables and rendering every shipped boot script and install config from them.

import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildInstallPlan,
  renderBootScript,
  renderInstallConfig,
  renderLocalBootScript,
  type InstallConfigKind,
  type InstallInput,
} from '../../../src/boot/templates/install-plan.js';
import { defaultOsCatalogue, findOs, osCatalogueSchema } from '../../../src/boot/templates/os-catalogue.js';
import { verifySha512Crypt } from '../../../src/boot/templates/sha512-crypt.js';
import { DEFAULT_TEMPLATE_ROOT, TemplateDir } from '../../../src/boot/templates/template-dir.js';
import { RackhandError } from '../../../src/errors.js';
import { ED25519 } from './ssh-key-fixture.js';
import { TEST_OS_CATALOGUE } from '../../harness/fixtures.js';

const PASSWORD = 'S3cret-Pass!';
const TOKEN = 'tok_abcdefghijklmnopqrstuvwxyz012345';
const templates = new TemplateDir();
/** The built-in entries and the test installer (which only tests configure). */
const CATALOGUE = osCatalogueSchema.parse({ ...defaultOsCatalogue, ...TEST_OS_CATALOGUE });
const AGENT = `http://10.213.0.1:8080/boot/agent/${TOKEN}`;

function input(over: Partial<InstallInput> = {}, params: Partial<InstallInput['params']> = {}): InstallInput {
  return {
    host: { serverId: 42, mac: '52:54:00:00:01:02', ip: '10.213.0.50', netmask: '255.255.255.0', gateway: '10.213.0.1', dns: ['10.213.0.1'] },
    osId: 'debian-12',
    params: { root_pass: PASSWORD, hostname: 'web1.example.com', ssh_key: `${ED25519} ops@site`, ...params },
    urls: { base: 'http://10.213.0.1:8080', callback: 'http://10.213.0.1:8080/api/v1/boot/callback', agent: AGENT },
    callbackToken: TOKEN,
    ...over,
  };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as RackhandError).code;
  }
  return 'no error';
}

const BOOT_TOKEN_RE = /^[A-Za-z0-9._~:/=%@+,[\]-]+$/;
const CALLBACK = `http://10.213.0.1:8080/api/v1/boot/callback/${TOKEN}`;

describe('buildInstallPlan', () => {
  it('derives host name, domain, URLs and hashes the password', () => {
    const { vars, osId } = buildInstallPlan(input());
    expect(osId).toBe('debian-12');
    expect(vars).toMatchObject({
      hostname: 'web1', domain: 'example.com', fqdn: 'web1.example.com', server_id: '42', mac_hyphen: '52-54-00-00-01-02',
      kernel_url: 'http://10.213.0.1:8080/images/debian-12-netboot/linux', http_server: '10.213.0.1:8080',
      kernel_path: '/images/debian-12-netboot/linux', install_url: 'http://10.213.0.1:8080/install/52-54-00-00-01-02',
      callback_url: CALLBACK, mirror_host: 'deb.debian.org', mirror_path: '/debian', use_lvm: true, disk_mirror: false,
    });
    expect(verifySha512Crypt(PASSWORD, vars.root_password_hash)).toBe(true);
    expect(JSON.stringify(vars)).not.toContain(PASSWORD);
  });

  it('uses custom_domain, server-<id> default, a stored hash, and API-style strings', () => {
    const hash = '$6$abc$' + 'x'.repeat(86);
    const { vars } = buildInstallPlan(input({}, {
      hostname: undefined, root_pass: undefined, root_password_hash: hash, custom_domain: 'dc1.example.net',
      disk_mirror: '1' as never, uefi: '1' as never, root_size: '40' as never, no_lvm: 'on' as never,
    }));
    expect(vars).toMatchObject({ fqdn: 'server-42.dc1.example.net', root_password_hash: hash, raid_level: '1', uefi: true,
      raid_partitions: '/dev/sda2#/dev/sdb2', root_min_mib: 40960, root_max_mib: 40960, use_lvm: false });
  });

  it('rejects injections in every field with INVALID_INPUT naming it', () => {
    const cases: Array<[Partial<InstallInput>, Partial<InstallInput['params']>, string]> = [
      [{}, { hostname: 'web1\nkernel http://evil/x' }, 'params.hostname'],
      [{}, { hostname: 'web1 init=/bin/sh' }, 'params.hostname'],
      [{}, { custom_domain: 'x.com;reboot' }, 'params.custom_domain'],
      [{}, { ssh_key: `${ED25519} a'\necho pwned` }, 'params.ssh_key'],
      [{}, { post_install_callback: "http://h/x';reboot;'" }, 'params.post_install_callback'],
      [{}, { post_install_callback: 'file:///etc/shadow' }, 'params.post_install_callback'],
      [{}, { root_size: '10; rm' as never }, 'params.root_size'],
      [{}, { root_pass: undefined }, 'params.root_pass'],
      [{ callbackToken: 'short' }, {}, 'callbackToken'],
      [{ urls: { base: 'http://h/ x', callback: 'http://h/cb' } }, {}, 'urls.base'],
      [{ urls: { base: 'http://h', callback: 'http://h/cb?x=1' } }, {}, 'urls.callback'],
      [{ host: { serverId: 1, mac: '52:54:00:00:01:02\n' } }, {}, 'host.mac'],
    ];
    for (const [over, params, field] of cases) {
      let err: RackhandError | undefined;
      try {
        buildInstallPlan(input(over, params));
      } catch (e) {
        err = e as RackhandError;
      }
      expect(err?.code, field).toBe('INVALID_INPUT');
      expect(err?.details?.field, field).toBe(field);
      expect(err?.message).not.toContain(PASSWORD);
    }
  });

  it('free-form scripts reach templates only base64-encoded', () => {
    const evil = "#!/bin/sh\necho '$(reboot)' `id` \"x\"\n";
    const plan = buildInstallPlan(input({}, { post_install_script: evil }));
    const out = renderInstallConfig('preseed', plan, templates);
    expect(out).toContain(Buffer.from(evil).toString('base64'));
    expect(out).not.toContain('$(reboot)');
  });

  it('unknown OS and unsafe catalogue arguments are refused', () => {
    expect(code(() => buildInstallPlan(input({ osId: 'plan9' })))).toBe('INVALID_INPUT');
    const cat = osCatalogueSchema.parse({
      bad: { ...TEST_OS_CATALOGUE['rackhand-test'], kernelArgs: ['label={{ os_name }}'] },
    });
    expect(code(() => buildInstallPlan(input({ osId: 'bad' }), cat))).toBe('TEMPLATE_ERROR');
  });
});

describe('findOs', () => {
  it('by key, numeric id, numeric string and name', () => {
    expect(findOs(defaultOsCatalogue, { osId: 'rocky-9' }).osId).toBe('rocky-9');
    expect(findOs(defaultOsCatalogue, { osId: 2 }).osId).toBe('ubuntu-24.04');
    expect(findOs(defaultOsCatalogue, { osId: '902' }).osId).toBe('disk-wipe');
    expect(findOs(defaultOsCatalogue, { osName: 'debian 12 (BOOKWORM)' }).osId).toBe('debian-12');
    expect(code(() => findOs(defaultOsCatalogue, { osId: 77 }))).toBe('INVALID_INPUT');
  });
  it('duplicate numeric ids are a catalogue error', () => {
    const e = defaultOsCatalogue['debian-12'];
    expect(osCatalogueSchema.safeParse({ a: e, b: e }).success).toBe(false);
  });
});

describe('rendering every shipped template', () => {
  const installKinds = (osId: string): InstallConfigKind[] => {
    const k = CATALOGUE[osId].templates.install?.kind;
    return k === 'preseed' ? ['preseed'] : k === 'kickstart' ? ['kickstart'] : k === 'cloud-init' ? ['user-data', 'meta-data'] : [];
  };
  const variants: Array<Partial<InstallInput['params']>> = [
    {},
    { disk_mirror: 1, uefi: true, root_size: 50, post_install_script: 'echo hi', post_install_callback: 'https://cc.example.com/done?id=42&x=1', cloud_init_script: '#!/bin/sh\ntrue\n' },
    { disk_mirror: 10, no_lvm: true, ssh_key: undefined },
    { wipe_mode: 'zero' },
  ];

  for (const osId of Object.keys(CATALOGUE)) {
    it(`${osId}: boot scripts carry only safe tokens, install configs end with the callbacks`, () => {
      for (const params of variants) {
        const plan = buildInstallPlan(input({ osId }, params), CATALOGUE);
        for (const kind of ['ipxe', 'grub', 'pxelinux'] as const) {
          if (!plan.os.templates[kind]) continue;
          const script = renderBootScript(kind, plan, templates);
          expect(script).toContain(kind === 'grub' ? plan.vars.kernel_path : plan.vars.kernel_url);
          expect(script).not.toContain('{{');
          const kernelLine = script.split('\n').find((l) => /^\s*(kernel|linux|linuxefi|APPEND) /.test(l)) as string;
          expect(kernelLine, `${osId} ${kind}`).toBeDefined();
          for (const arg of plan.vars.kernel_args) expect(kernelLine).toContain(` ${arg}`);
          if (plan.os.family === 'linux-test') {
            expect(kernelLine).toContain(`rackhand.callback=${CALLBACK}`);
            expect(kernelLine).toContain(`rackhand.action=${plan.vars.rackhand_action}`);
          }
          // The rackhand ramdisk's agent fetches its job from its install's agent URL.
          if (['diag', 'wipe', 'rescue', 'image'].includes(plan.os.family)) expect(kernelLine).toContain(`rackhand.url=${AGENT}`);
          if (kind === 'ipxe') expect(script.startsWith('#!ipxe\n')).toBe(true);
        }
        for (const kind of installKinds(osId)) {
          const out = renderInstallConfig(kind, plan, templates);
          expect(out).not.toContain(PASSWORD);
          expect(out).not.toContain('{{');
          if (kind === 'meta-data') {
            expect(out).toContain(`local-hostname: ${plan.vars.fqdn}`);
            continue;
          }
          expect(out).toContain(plan.vars.root_password_hash);
          for (const key of plan.vars.ssh_keys) expect(out).toContain(key);
          const cb = out.lastIndexOf(CALLBACK);
          expect(cb, `${osId} ${kind} calls back`).toBeGreaterThan(0);
          if (plan.vars.post_install_script_b64) expect(out.indexOf(plan.vars.post_install_script_b64)).toBeLessThan(cb);
          if (plan.vars.post_install_callback) expect(out.indexOf(plan.vars.post_install_callback)).toBeGreaterThan(cb);
          if (kind === 'user-data') expect(out.startsWith('#cloud-config\n')).toBe(true);
        }
      }
    });
  }

  it('ipxe kernel lines are one line of safe tokens even for hostile-looking valid input', () => {
    const plan = buildInstallPlan(input({ osId: 'rackhand-test' }, { hostname: 'a-1.b-2.c' }), CATALOGUE);
    const line = renderBootScript('ipxe', plan, templates).split('\n').find((l) => l.startsWith('kernel '))!;
    for (const tok of line.replace(/ \|\| goto failed$/, '').split(' ').slice(1)) expect(tok).toMatch(BOOT_TOKEN_RE);
  });

  it('a kind the OS does not use is NOT_FOUND', () => {
    const plan = buildInstallPlan(input());
    expect(code(() => renderInstallConfig('kickstart', plan, templates))).toBe('NOT_FOUND');
    expect(code(() => renderInstallConfig('preseed', buildInstallPlan(input({ osId: 'diagnostics' })), templates))).toBe('NOT_FOUND');
  });

  it('local-disk scripts for every boot kind', () => {
    expect(renderLocalBootScript('ipxe', templates)).toMatch(/^#!ipxe\n[\s\S]*sanboot[\s\S]*exit/);
    expect(renderLocalBootScript('grub', templates)).toContain('exit');
    expect(renderLocalBootScript('pxelinux', templates)).toContain('LOCALBOOT 0');
  });

  it('every template file uses only variables the plan defines', () => {
    const known = new Set(Object.keys(buildInstallPlan(input()).vars));
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((f) => (statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : [path.join(d, f)]));
    const files = walk(DEFAULT_TEMPLATE_ROOT).map((f) => path.relative(DEFAULT_TEMPLATE_ROOT, f)).filter((f) => f !== 'README.md');
    expect(files.length).toBeGreaterThanOrEqual(14);
    for (const f of files) {
      for (const v of templates.load(f).variables) expect(known.has(v), `${f}: ${v}`).toBe(true);
    }
    for (const [id, os] of Object.entries(defaultOsCatalogue)) {
      const names = [os.templates.ipxe, os.templates.grub, os.templates.pxelinux].filter(Boolean) as string[];
      for (const n of names) expect(templates.has(n), `${id}: ${n}`).toBe(true);
    }
  });
});
