// Before any test: build dist/ from the sources under test, so a test that spawns the daemon (bin/rackhand.js runs
// dist/) never runs code older than the sources the unit tests import.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '..');
  execFileSync('npx', ['--no-install', 'tsc', '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  // The native addon (src/native) is built by `npm run build`; without it the daemon falls back to JavaScript, so a
  // test run must not silently measure the fallback.
  if (!existsSync(path.join(root, 'src/native/build/Release/rackhand_native.node'))) {
    execFileSync('npm', ['run', 'build:native'], { cwd: root, stdio: 'inherit' });
  }
}
