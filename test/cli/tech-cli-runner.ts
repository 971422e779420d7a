// Runs the technician CLI as a real process the way a tech does: `node bin/rackhand.js <command>`, on a fresh
// build of the project (`tsc -p tsconfig.json` into dist/, which bin/rackhand.js imports).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestSite, type TestSite } from '../web/test-site.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(REPO_ROOT, 'bin/rackhand.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRunner {
  run(args: string[], env?: Record<string, string | undefined>, onStdout?: (text: string) => void, opts?: { input?: string; onStart?: (child: ChildProcess) => void }): Promise<CliRun>;
}

/**
 * Builds dist/ with the project's own tsconfig. tsc emits even when files elsewhere in the tree have type errors
 * (typechecking is its own step); what matters here is that the CLI's entry points were emitted just now.
 */
export async function buildCli(): Promise<void> {
  const started = Date.now();
  const out = await new Promise<{ code: number; text: string }>((resolve) => {
    execFile(path.join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: REPO_ROOT, maxBuffer: 32 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, text: `${stdout}${stderr}` }),
    );
  });
  for (const f of ['dist/cli/main.js', 'dist/cli/tech-cli.js', 'dist/agent.js']) {
    const p = path.join(REPO_ROOT, f);
    // mtime granularity and clock rounding: a second of slack
    if (!fs.existsSync(p) || fs.statSync(p).mtimeMs < started - 1000) {
      throw new Error(`build did not emit ${f} (tsc exit ${out.code}):\n${out.text.slice(0, 4000)}`);
    }
  }
  if (!fs.readFileSync(path.join(REPO_ROOT, 'dist/cli/main.js'), 'utf8').includes('runApiCommand')) {
    throw new Error('dist/cli/main.js does not dispatch the technician commands');
  }
}

export function cliRunner(): CliRunner {
  return {
    run(args, env = {}, onStdout, opts = {}) {
      return new Promise((resolve, reject) => {
        const base = { ...process.env };
        delete base.RACKHAND_URL;
        delete base.RACKHAND_TOKEN;
        delete base.RACKHAND_CONFIG;
        const merged: NodeJS.ProcessEnv = { ...base };
        for (const [k, v] of Object.entries(env)) {
          if (v === undefined) delete merged[k];
          else merged[k] = v;
        }
        const p = spawn(process.execPath, [BIN, ...args], { env: merged, cwd: REPO_ROOT, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
        if (opts.input !== undefined) p.stdin!.end(opts.input);
        opts.onStart?.(p);
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
        p.stdout!.on('data', (d) => {
          stdout += d;
          onStdout?.(stdout);
        });
        p.stderr!.on('data', (d) => (stderr += d));
        p.on('error', reject);
        p.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
      });
    },
  };
}

export interface CliSite {
  site: TestSite;
  cli: CliRunner;
  /** A HOME of its own (for ~/.config/rackhand/cli.json). */
  home: string;
  /** The environment the CLI runs with: the site's URL and the token of `role`. */
  env: Record<string, string | undefined>;
  close(): Promise<void>;
}

/** A fresh build, the real agent on a test site, and a CLI pointed at it as `role`. */
export async function startCliSite(role: 'tech' | 'admin'): Promise<CliSite> {
  await buildCli();
  const site = await startTestSite();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-cli-home-${process.pid}-`));
  return {
    site,
    cli: cliRunner(),
    home,
    env: { HOME: home, XDG_CONFIG_HOME: undefined, RACKHAND_URL: site.url, RACKHAND_TOKEN: site.tokens[role] },
    async close() {
      fs.rmSync(home, { recursive: true, force: true });
      await site.close();
    },
  };
}
