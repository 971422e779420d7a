// The state-dir lock in one process: exclusive, names its holder, gone once released.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireStateLock, StateLockedError } from '../../src/store/state-lock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-lock-${process.pid}-`));
  dirs.push(d);
  return d;
};

describe('acquireStateLock', () => {
  it('a second holder is refused with the first one\'s PID; after release it is free again', () => {
    const dir = tempDir();
    const first = acquireStateLock(dir);
    expect(fs.readFileSync(first.file, 'utf8').trim()).toBe(String(process.pid));
    let refused: unknown;
    try {
      acquireStateLock(dir);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(StateLockedError);
    expect((refused as StateLockedError).holderPid).toBe(process.pid);
    expect((refused as Error).message).toContain(`(PID ${process.pid})`);
    expect((refused as Error).message).not.toContain('\n');
    first.release();
    const again = acquireStateLock(dir);
    again.release();
  });

  it('locks per state dir, not globally', () => {
    const a = acquireStateLock(tempDir());
    const b = acquireStateLock(tempDir());
    a.release();
    b.release();
  });
});
