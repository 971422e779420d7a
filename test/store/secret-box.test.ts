import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/store/secret-box.js';

describe('SecretBox', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rh-key-'));
  const keyFile = path.join(dir, 'sub', 'secret.key');

  it('creates the key file 0600 and reuses it', () => {
    const a = SecretBox.fromKeyFile(keyFile);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const sealed = a.seal('hunter2', 'server:1:bmc');
    expect(sealed).not.toContain('hunter2');
    expect(SecretBox.fromKeyFile(keyFile).open(sealed, 'server:1:bmc')).toBe('hunter2');
  });

  it('refuses a ciphertext moved to another row, tampered with, or under another key', () => {
    const box = SecretBox.fromKeyFile(keyFile);
    const sealed = box.seal('hunter2', 'server:1:bmc');
    expect(() => box.open(sealed, 'server:2:bmc')).toThrow();
    const parts = sealed.split(':');
    parts[3] = Buffer.from('x' + Buffer.from(parts[3], 'base64').toString('latin1')).toString('base64');
    expect(() => box.open(parts.join(':'), 'server:1:bmc')).toThrow();
    expect(() => SecretBox.fromKey(Buffer.alloc(32, 7)).open(sealed, 'server:1:bmc')).toThrow();
  });

  it('refuses a key file readable by others', () => {
    const f = path.join(dir, 'loose.key');
    SecretBox.fromKeyFile(f);
    chmodSync(f, 0o644);
    expect(() => SecretBox.fromKeyFile(f)).toThrow(/readable/);
    expect(readFileSync(f, 'utf8').trim()).toHaveLength(44);
  });
});
