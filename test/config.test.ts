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

  it('an ill-typed key stops start-up naming it', () => {
    expect(() => loadConfig({ file: file('http:\n  bodyLimitBytes: lots\n'), env: {} })).toThrow(/http\.bodyLimitBytes/);
    expect(() => loadConfig({ env: { RACKHAND_HTTP_LISTEN: 'nowhere' } })).toThrow(ConfigError);
    expect(() => loadConfig({ file: '/nonexistent/rackhand.yaml', env: {} })).toThrow(/cannot read/);
  });
});
