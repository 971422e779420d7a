// Runs the real rackhand daemon (node bin/rackhand.js serve) as a child process on a free loopback port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_OS_CATALOGUE } from './fixtures.js';
import { placeholderImportArgs } from './placeholder-images.js';

/** The repository (a bench compiled elsewhere by bench/run-ts.sh names it in BENCH_REPO_ROOT). */
export const REPO_ROOT = process.env.BENCH_REPO_ROOT ?? path.resolve(import.meta.dirname, '../..');
// TEST_RACKHAND_BIN runs the same tests against another build (an older commit's bin/rackhand.js), to show that a
// test fails before a change.
const BIN = process.env.TEST_RACKHAND_BIN ?? path.join(REPO_ROOT, 'bin/rackhand.js');

export interface RackhandProcess {
  url: string;
  stateDir: string;
  /** Everything the daemon printed (stdout and stderr), for log assertions. */
  output(): string;
  cli(args: string[], input?: string, timeoutMs?: number): { code: number; stdout: string; stderr: string };
  /**
   * The same without blocking the test's event loop: needed when the command talks to a server the test itself
   * runs (a download from the test's web server), or runs long while the test's sockets must stay serviced.
   */
  cliAsync(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
  kill9(): Promise<void>;
  /** Start again on the same state dir (and the same config). */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
  child(): ChildProcess;
}

export interface StartOptions {
  stateDir?: string;
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  listen?: string;
  /**
   * Run the daemon inside this network namespace (`ip netns exec NS node …`); `url` is then what the daemon
   * printed (e.g. http://0.0.0.0:8080), reachable only from inside the namespace or through a route into it.
   * cli() still runs in the caller's namespace: it works on the state dir only.
   */
  netns?: string;
  /** Options for node itself, before the daemon's script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** Import placeholder images (test/harness/placeholder-images.ts) once the daemon has started. */
  placeholderImages?: string[];
  /**
   * Start the daemon in a session of its own (setsid), as systemd starts a service: with the kernel's autogroup
   * scheduling it then gets its own share of the CPUs instead of splitting the caller's with it (a bench's load
   * generator, which in a datacenter runs on another machine).
   */
  ownSession?: boolean;
}

/**
 * A test daemon's configuration: every one knows the test installer as os 900 (no built-in entry is for tests);
 * a test's own catalogue entries are added to it. Tests that rewrite the file (SIGHUP) write it through this too.
 */
export function testConfig(config: Record<string, unknown> = {}): Record<string, unknown> {
  const boot = (config.boot ?? {}) as Record<string, unknown>;
  return { ...config, boot: { ...boot, osCatalogue: { ...TEST_OS_CATALOGUE, ...((boot.osCatalogue as object) ?? {}) } } };
}

export async function startRackhand(opts: StartOptions = {}): Promise<RackhandProcess> {
  const stateDir = opts.stateDir ?? mkdtempSync(path.join(tmpdir(), `rackhand-test-${process.pid}-`));
  const configFile = path.join(stateDir, 'test-config.json');
  // TEST_RACKHAND_CONFIG_DROP=key,…: leave out top-level keys an older build (TEST_RACKHAND_BIN) does not know.
  const drop = new Set((process.env.TEST_RACKHAND_CONFIG_DROP ?? '').split(',').filter(Boolean));
  writeFileSync(configFile, JSON.stringify(Object.fromEntries(Object.entries(testConfig(opts.config)).filter(([k]) => !drop.has(k)))));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RACKHAND_STATE_DIR: stateDir,
    RACKHAND_HTTP_LISTEN: opts.listen ?? '127.0.0.1:0',
    // A test configuration: servers may use the in-process simulated BMC driver.
    RACKHAND_BMC_ALLOW_SIMULATED: 'true',
    RACKHAND_CONFIG: configFile,
    ...opts.env,
  };
  // TEST_RACKHAND_ENV_DROP=NAME,…: leave out variables an older build (TEST_RACKHAND_BIN) does not know.
  for (const name of (process.env.TEST_RACKHAND_ENV_DROP ?? '').split(',').filter(Boolean)) delete env[name];
  let out = '';
  let proc!: ChildProcess;
  let url = '';

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      // `ip netns exec` exec()s node, so proc.pid is the daemon's own pid either way.
      proc = opts.netns
        ? spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...(opts.nodeArgs ?? []), BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.ownSession })
        : spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.ownSession });
      const timer = setTimeout(() => reject(new Error(`rackhand did not start:\n${out}`)), 30_000);
      // Only this launch's output: an earlier run's "listening on" line names a port that is gone.
      const from = out.length;
      const onData = (b: Buffer) => {
        out += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out.slice(from));
        if (m && !url) {
          url = m[1];
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        if (!url) reject(new Error(`rackhand exited with ${code} before listening:\n${out}`));
      });
    });

  const waitExit = (p: ChildProcess) =>
    new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

  await launch();
  // After the start: the CLI works only on a state dir that has its database.
  for (const name of opts.placeholderImages ?? []) {
    const r = spawnSync(process.execPath, [BIN, ...placeholderImportArgs(name)], { env, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`placeholder image ${name}: ${r.stderr}`);
  }
  const handle: RackhandProcess = {
    get url() {
      return url;
    },
    stateDir,
    output: () => out,
    cli(args, input, timeoutMs = 60_000) {
      const r = spawnSync(process.execPath, [BIN, ...args], { env, input, encoding: 'utf8', timeout: timeoutMs });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    cliAsync(args, timeoutMs = 60_000) {
      return new Promise((resolve) => {
        const c = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    },
    async stop() {
      proc.kill('SIGTERM');
      await waitExit(proc);
    },
    async kill9() {
      proc.kill('SIGKILL');
      await waitExit(proc);
    },
    async restart() {
      url = '';
      await launch();
    },
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await waitExit(proc);
      }
      if (!opts.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
    child: () => proc,
  };
  return handle;
}

/** A tiny JSON client for tests. */
export function apiClient(base: () => string, token?: string) {
  const call = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}, bearer = true) => {
    const res = await fetch(base() + p, {
      method,
      headers: {
        ...(token && bearer ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  return {
    get: (p: string, h?: Record<string, string>) => call('GET', p, undefined, h),
    post: (p: string, body?: unknown, h?: Record<string, string>) => call('POST', p, body, h),
    put: (p: string, body?: unknown) => call('PUT', p, body),
    del: (p: string) => call('DELETE', p),
    /** eq: form-encoded POST as central sends it, the token as a parameter (no Authorization header). */
    eq: (params: Record<string, string | number>, tok: string | undefined = token) => {
      const form = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) form.set(k, String(v));
      if (tok) form.set('token', tok);
      return call('POST', '/api/eq', form.toString(), { 'content-type': 'application/x-www-form-urlencoded' }, false);
    },
  };
}
