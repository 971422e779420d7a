// Test harness: compile a TypeScript entry (and the src/ it imports) to plain ESM so `ip netns exec node` can run it.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The repository (a bench compiled elsewhere by bench/run-ts.sh names it in BENCH_REPO_ROOT). */
export const REPO_ROOT = process.env.BENCH_REPO_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface CompiledChild {
  /** The compiled entry, to run with `node <js>`. */
  js: string;
  outDir: string;
  remove(): void;
}

/**
 * Node 20 cannot run .ts itself and a process inside a namespace cannot share vitest's loader, so the entry is
 * compiled with the project's own tsc (type errors elsewhere in the tree do not block emit).
 */
export async function compileForChild(entryTs: string): Promise<CompiledChild> {
  const outDir = mkdtempSync(join(tmpdir(), `rh-child-${process.pid}-`));
  const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  const args = [
    '--ignoreConfig',
    '--outDir', outDir,
    '--rootDir', REPO_ROOT,
    '--module', 'nodenext',
    '--moduleResolution', 'nodenext',
    '--target', 'es2022',
    '--skipLibCheck',
    '--types', 'node',
    '--sourceMap', 'false',
    '--declaration', 'false',
    resolve(entryTs),
  ];
  try {
    await run(tsc, args, { cwd: REPO_ROOT });
  } catch (e) {
    // tsc exits non-zero on type errors but still emits; only a missing output is fatal (checked below).
    const err = e as { stdout?: string };
    if (err.stdout) process.stderr.write(`compileForChild: tsc reported:\n${err.stdout}\n`);
  }
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  const js = join(outDir, relative(REPO_ROOT, resolve(entryTs))).replace(/\.ts$/, '.js');
  if (!existsSync(js)) {
    rmSync(outDir, { recursive: true, force: true });
    throw new Error(`compileForChild: ${js} was not emitted`);
  }
  return { js, outDir, remove: () => rmSync(outDir, { recursive: true, force: true }) };
}
