// A UDP peer in front of a real ipmi_sim corrupts each field of each handshake reply in turn (type bytes, lengths,
// algorithm records, status, every byte, truncation at every length): the process running rackhand's native driver
// stays up, a reply corrupted once costs a retransmit or a handshake restart (the read succeeds), and a reply
// corrupted every time ends in a stable error code. The driver runs in a child process so a crash is visible.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileForChild, type CompiledChild } from '../../harness/netns-ts-child.js';

let child: CompiledChild;
beforeAll(async () => {
  child = await compileForChild(join(import.meta.dirname, 'corrupt-handshake-run.ts'));
});
afterAll(() => child?.remove());

interface Line {
  case?: string;
  outcome?: string;
  message?: string;
  applied?: number;
  done?: boolean;
  cases?: number;
  rejected?: number;
}

function runChild(args: string[]): Promise<{ code: number | null; signal: string | null; lines: Line[]; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child.js, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code, signal) => {
      const lines = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Line);
      resolve({ code, signal, lines, stderr });
    });
  });
}

const STABLE = ['BMC_TIMEOUT', 'BMC_ERROR', 'BMC_AUTH_FAILED', 'BMC_UNSUPPORTED', 'BMC_BUSY', 'BMC_UNREACHABLE'];

describe('handshake replies corrupted field by field, real ipmi_sim behind a corrupting proxy', () => {
  it('corrupted once: the process stays up, every read succeeds, corrupt datagrams are counted as rejected', async () => {
    const r = await runChild(['once']);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    const done = r.lines.find((l) => l.done);
    expect(done).toBeDefined();
    const cases = r.lines.filter((l) => l.case !== undefined);
    expect(cases).toHaveLength(done!.cases!);
    expect(cases.length).toBeGreaterThan(300);
    for (const c of cases) expect(c.applied, c.case).toBe(1); // the corruption really happened
    const failed = cases.filter((c) => c.outcome !== 'on').map((c) => `${c.case}: ${c.outcome} ${c.message}`);
    expect(failed).toEqual([]);
    expect(done!.rejected).toBeGreaterThan(0);
  }, 300_000);

  it('corrupted every time: the process stays up and each read ends in a stable BMC error code', async () => {
    const r = await runChild(['always', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const cases = r.lines.filter((l) => l.case !== undefined);
    expect(cases).toHaveLength(r.lines.find((l) => l.done)!.cases!);
    for (const c of cases) {
      expect(c.applied, c.case).toBeGreaterThan(0);
      // A corruption that keeps the reply valid (a byte the handshake does not check) may still succeed.
      if (c.outcome !== 'on') expect(STABLE, `${c.case}: ${c.outcome} ${c.message}`).toContain(c.outcome);
    }
    // "wrong password?" is for a consistent RAKP 2 mismatch only; it must never blame the password for anything else.
    for (const c of cases.filter((x) => /wrong password/.test(x.message ?? ''))) expect(c.case).toMatch(/^rakp2: /);
  }, 300_000);
});
