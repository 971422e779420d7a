// Runs the technician CLI as a real process: `node bin/rackhand.js …` once main.ts dispatches to it, until
// then tech-cli.ts compiled on its own into a temp dir (it imports only node: modules).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRunner {
  via: 'bin/rackhand.js' | 'compiled tech-cli';
  run(args: string[], env?: Record<string, string | undefined>, onStdout?: (text: string) => void): Promise<CliRun>;
  cleanup(): void;
}

export function cliRunner(): CliRunner {
  const main = path.join(REPO_ROOT, 'dist/cli/main.js');
  const wired = fs.existsSync(main) && fs.readFileSync(main, 'utf8').includes('runTechCommand') && fs.existsSync(path.join(REPO_ROOT, 'dist/cli/tech-cli.js'));
  let entry: string[];
  let tmp: string | undefined;
  if (wired) entry = [path.join(REPO_ROOT, 'bin/rackhand.js')];
  else {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-techcli-${process.pid}-`));
    execFileSync(
      path.join(REPO_ROOT, 'node_modules/.bin/tsc'),
      ['--ignoreConfig', '--outDir', tmp, '--rootDir', 'src', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', '--sourceMap', 'false', 'src/cli/tech-cli.ts'],
      { cwd: REPO_ROOT, stdio: 'pipe' },
    );
    fs.writeFileSync(path.join(tmp, 'package.json'), '{"type":"module"}');
    entry = [path.join(tmp, 'cli/tech-cli.js')];
  }
  return {
    via: wired ? 'bin/rackhand.js' : 'compiled tech-cli',
    run(args, env = {}, onStdout) {
      return new Promise((resolve, reject) => {
        const base = { ...process.env };
        delete base.RACKHAND_URL;
        delete base.RACKHAND_TOKEN;
        const merged: NodeJS.ProcessEnv = { ...base };
        for (const [k, v] of Object.entries(env)) {
          if (v === undefined) delete merged[k];
          else merged[k] = v;
        }
        const p = spawn(process.execPath, [...entry, ...args], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
        p.stdout.on('data', (d) => {
          stdout += d;
          onStdout?.(stdout);
        });
        p.stderr.on('data', (d) => (stderr += d));
        p.on('error', reject);
        p.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
      });
    },
    cleanup() {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
