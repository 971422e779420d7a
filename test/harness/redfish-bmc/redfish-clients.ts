// Test harness: the independent Redfish clients from Debian — DMTF's redfishtool and OpenStack's sushy — run against an
// emulated BMC. Credentials travel in a 0600 file (redfishtool -c) or on stdin (sushy), never in argv.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedfishPeer {
  host: string;
  port: number;
  username: string;
  password: string;
  tls: boolean;
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * python-requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify=False, so a client told to
 * accept the BMC's self-signed certificate would still check it: the clients run without them.
 */
function clientEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.REQUESTS_CA_BUNDLE;
  delete env.CURL_CA_BUNDLE;
  return env;
}

function run(cmd: string, args: string[], stdin?: string, timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: clientEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

/** `redfishtool -r HOST:PORT -c <credentials file> -S Always|Never ARGS…`; `-A Session` in args for session auth. */
export async function redfishtool(peer: RedfishPeer, args: string[], timeoutMs?: number): Promise<ToolResult> {
  const dir = mkdtempSync(join(tmpdir(), `rh-rft-${process.pid}-`));
  try {
    const cfg = join(dir, 'cred.json');
    writeFileSync(cfg, JSON.stringify({ user: peer.username, password: peer.password }), { mode: 0o600 });
    return await run('redfishtool', ['-r', `${peer.host}:${peer.port}`, '-c', cfg, '-S', peer.tls ? 'Always' : 'Never', '-T', '20', ...args], undefined, timeoutMs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** redfishtool's JSON output (it prints the resource it got), or a thrown error with its stderr. */
export async function redfishtoolJson<T = Record<string, unknown>>(peer: RedfishPeer, args: string[]): Promise<T> {
  const r = await redfishtool(peer, args);
  if (r.code !== 0) throw new Error(`redfishtool ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return JSON.parse(r.stdout) as T;
}

export type SushyOp =
  | { op: 'state' }
  | { op: 'reset'; value: string }
  | { op: 'boot'; target?: string; enabled?: string; mode?: string }
  | { op: 'insert'; image: string }
  | { op: 'eject' }
  | { op: 'media' }
  | { op: 'session' };

export interface SushyAnswer {
  results: Record<string, unknown>[];
  error?: string;
}

const SUSHY_CLIENT = join(import.meta.dirname, 'sushy-client.py');

/** Runs the ops in order through python3-sushy (one Sushy instance); Debian's python, where the module lives. */
export async function sushy(peer: RedfishPeer, ops: SushyOp[], auth: 'session' | 'basic' | 'auto' = 'auto'): Promise<SushyAnswer> {
  const url = `${peer.tls ? 'https' : 'http'}://${peer.host}:${peer.port}`;
  const r = await run('/usr/bin/python3', [SUSHY_CLIENT], JSON.stringify({ url, username: peer.username, password: peer.password, auth, ops }));
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as SushyAnswer;
  } catch {
    throw new Error(`sushy client failed (${r.code}): ${r.stderr.slice(-2000)}`);
  }
}
