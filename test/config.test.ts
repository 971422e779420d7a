import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const file = (text: string) => {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'rh-config-')), 'rackhand.yaml');
  writeFileSync(f, text);
  return f;
};

describe('config', () => {
  it('embedded defaults: ./var, 127.0.0.1:8080, key file inside the state dir', () => {
    const c = loadConfig({ env: {} });
    expect(c.stateDir).toBe(path.resolve('var'));
    expect(c.http.listen).toBe('127.0.0.1:8080');
    expect(c.secrets.keyFile).toBe(path.resolve('var/secret.key'));
  });

  it('YAML file, then RACKHAND_* overrides typed from YAML scalars', () => {
    const f = file('site:\n  name: ams1\nhttp:\n  listen: 0.0.0.0:9000\n');
    const c = loadConfig({ file: f, env: { RACKHAND_HTTP_LISTEN: '127.0.0.1:9100', RACKHAND_HTTP_BODY_LIMIT_BYTES: '2048', RACKHAND_LOG_LEVEL: 'debug' } });
    expect(c.site.name).toBe('ams1');
    expect(c.http.listen).toBe('127.0.0.1:9100');
    expect(c.http.bodyLimitBytes).toBe(2048);
    expect(c.log.level).toBe('debug');
  });

  it('an unknown key stops start-up naming it', () => {
    expect(() => loadConfig({ file: file('http:\n  listn: 1.2.3.4:5\n'), env: {} })).toThrow(/http.*listn/);
    expect(() => loadConfig({ env: { RACKHAND_HTTP_LISTN: 'x' } })).toThrow(/RACKHAND_HTTP_LISTN/);
  });

  it('boot.imageCongestionControl: cubic by default, empty for the system\'s, anything but a kernel name refused naming the key', () => {
    expect(loadConfig({ env: {} }).boot.imageCongestionControl).toBe('cubic');
    expect(loadConfig({ env: { RACKHAND_BOOT_IMAGE_CONGESTION_CONTROL: '' } }).boot.imageCongestionControl).toBe('');
    expect(loadConfig({ env: { RACKHAND_BOOT_IMAGE_CONGESTION_CONTROL: 'reno' } }).boot.imageCongestionControl).toBe('reno');
    for (const bad of ['Bad Name', 'x'.repeat(16), 'cubic;reboot']) {
      expect(() => loadConfig({ env: { RACKHAND_BOOT_IMAGE_CONGESTION_CONTROL: bad } })).toThrow(/boot\.imageCongestionControl: a kernel congestion control name/);
    }
  });

  it('an ill-typed key stops start-up naming it', () => {
    expect(() => loadConfig({ file: file('http:\n  bodyLimitBytes: lots\n'), env: {} })).toThrow(/http\.bodyLimitBytes/);
    expect(() => loadConfig({ env: { RACKHAND_HTTP_LISTEN: 'nowhere' } })).toThrow(ConfigError);
    expect(() => loadConfig({ file: '/nonexistent/rackhand.yaml', env: {} })).toThrow(/cannot read/);
  });

  it('reports every problem at once, each with file:line, and a "did you mean" for misspelt keys', () => {
    const f = file(['site:', '  name: ams1', 'http:', '  listn: 0.0.0.0:80', '  bodyLimitBytes: lots', 'bmc:', '  sync:', '    intervalMS: 5000', 'stateDri: /srv', 'boot:', '  dhcp:', '    mode: sometimes', ''].join('\n'));
    let err: ConfigError | undefined;
    try {
      loadConfig({ file: f, env: { RACKHAND_LOG_LEVL: 'debug', RACKHAND_HTTP_LISTEN: 'nowhere' } });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = err!.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        `${f}:4: http.listn: unknown key (did you mean listen?)`,
        expect.stringMatching(new RegExp(`^${f}:5: http\\.bodyLimitBytes: expected number, received string, got "lots"$`)),
        `${f}:8: bmc.sync.intervalMS: unknown key (did you mean intervalMs?)`,
        `${f}:9: stateDri: unknown key (did you mean stateDir?)`,
        expect.stringMatching(new RegExp(`^${f}:12: boot\\.dhcp\\.mode: .*"off".*got "sometimes"$`)),
        'RACKHAND_LOG_LEVL: unknown configuration variable (did you mean RACKHAND_LOG_LEVEL?)',
        expect.stringMatching(/^RACKHAND_HTTP_LISTEN: http\.listen: .*host:port.*got "nowhere"$/),
      ]),
    );
    expect(problems).toHaveLength(7);
    for (const p of problems) expect(p).not.toContain('\n');
  });

  it('a YAML syntax error names the file, line and column', () => {
    const f = file('site:\n  name: ams1\nhttp:\n  listen: "127.0.0.1:8080\nlog:\n  level: info\n');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(new RegExp(`^${f}:4:\\d+: YAML syntax error: `));
    const tabs = file('http:\n\tlisten: 1.2.3.4:5\n');
    expect(() => loadConfig({ file: tabs, env: {} })).toThrow(new RegExp(`^${tabs}:2:\\d+: YAML syntax error`));
    const list = file('- a\n- b\n');
    expect(() => loadConfig({ file: list, env: {} })).toThrow(/expected a YAML mapping/);
  });

  it('a missing file says what to do; --state-dir wins over file and environment', () => {
    expect(() => loadConfig({ file: '/nonexistent/rackhand.yaml', env: {} })).toThrow(/^\/nonexistent\/rackhand\.yaml: cannot read the configuration file: no such file \(copy rackhand\.example\.yaml there/);
    const f = file('stateDir: /from/file\n');
    expect(loadConfig({ file: f, env: { RACKHAND_STATE_DIR: '/from/env' }, stateDir: '/from/flag' }).stateDir).toBe('/from/flag');
    expect(loadConfig({ file: f, env: { RACKHAND_STATE_DIR: '/from/env' } }).stateDir).toBe('/from/env');
  });

  it('DHCP or TFTP without boot.serverIp is a configuration problem, found before start', () => {
    const f = file('boot:\n  dhcp:\n    mode: proxy\n  tftp:\n    enabled: true\n');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(
      new ConfigError([
        `${f}:3: boot.dhcp.mode: needs boot.serverIp (rackhand's IPv4 address on the servers' network), got "proxy"`,
        `${f}:5: boot.tftp.enabled: needs boot.serverIp (rackhand's IPv4 address on the servers' network), got true`,
      ]),
    );
    expect(loadConfig({ file: f, env: { RACKHAND_BOOT_SERVER_IP: '192.0.2.1' } }).boot.serverIp).toBe('192.0.2.1');
  });
});
