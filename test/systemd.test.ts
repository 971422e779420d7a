// The unit file: verified by systemd-analyze where it exists, and the hardening we promise is present.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './harness/rackhand-process.js';

const UNIT = `${REPO_ROOT}/systemd/rackhand.service`;

describe('systemd/rackhand.service', () => {
  it('passes systemd-analyze verify', () => {
    const probe = spawnSync('systemd-analyze', ['--version']);
    if (probe.error) {
      expect.soft(probe.error, 'systemd-analyze missing: cannot verify here').toBeUndefined();
      return;
    }
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    // verify prints nothing for a clean unit; an unknown directive or bad value is printed and fails.
    const complaints = (r.stderr + r.stdout).split('\n').filter((l) => l.includes('rackhand.service') && !/Failed to resolve user|User .* not found/.test(l));
    expect(complaints).toEqual([]);
  });

  it('runs as a dedicated user with the promised hardening and capabilities', () => {
    const unit = readFileSync(UNIT, 'utf8');
    for (const line of [
      'User=rackhand',
      'StateDirectory=rackhand',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW',
      'Restart=on-failure',
      'UMask=0077',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
  });
});
