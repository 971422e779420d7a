// Benchmark set-up: installs the Debian packages whose commands a bench needs (anchors and clients), as the test command installs peers.

import { execFileSync } from 'node:child_process';

/** `commands` maps a command to the Debian package that provides it; missing ones are installed with apt-get. */
export function ensureAnchors(commands) {
  const missing = [...new Set(Object.entries(commands).filter(([cmd]) => !onPath(cmd)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  console.error(`bench set-up: installing ${missing.join(' ')}`);
  const apt = (...a) => execFileSync('apt-get', a, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  apt('update', '-qq');
  apt('install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=600', '--no-install-recommends', ...missing);
  const still = Object.keys(commands).filter((cmd) => !onPath(cmd));
  if (still.length) throw new Error(`bench set-up: still missing after apt-get: ${still.join(' ')}`);
}

function onPath(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
