// The agent's own Go unit tests (kernel command line, LLDP parser under garbage and truncation, disk picking) and
// `go vet`, run through the test command so they are not forgotten.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RAMDISK_SOURCE_DIR } from '../../src/images/ramdisk-builder.js';

const run = promisify(execFile);
const env = { ...process.env, CGO_ENABLED: '0', GOPROXY: 'off', GOFLAGS: '-mod=mod', GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'rackhand-go-cache') };

describe('ramdisk agent (Go)', () => {
  it('go vet is clean and go test passes', async () => {
    const cwd = join(RAMDISK_SOURCE_DIR, 'agent');
    await run('go', ['vet', './...'], { cwd, env });
    const r = await run('go', ['test', '-count=1', '-v', './...'], { cwd, env });
    expect(r.stdout).toMatch(/^--- PASS: TestParseLLDPGarbageAndTruncation/m);
    expect(r.stdout).toMatch(/^ok\s+rackhand\/ramdisk\/agent/m);
  }, 120_000);
});
