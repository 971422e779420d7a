// The one-daemon-per-state-dir rule: an exclusive flock on <stateDir>/rackhand.lock for the daemon's lifetime.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** flock(1)'s exit code when the lock is held elsewhere (-E): tells "busy" apart from "could not lock at all". */
const CONFLICT_EXIT = 75;

export const LOCK_FILE_NAME = 'rackhand.lock';

export class StateLockedError extends Error {
  constructor(
    readonly stateDir: string,
    readonly holderPid: number | null,
  ) {
    super(
      `another rackhand${holderPid ? ` (PID ${holderPid})` : ''} is serving the state dir ${stateDir}: ` +
        `stop it first (systemctl stop rackhand, or kill ${holderPid ?? 'it'}) or point this one at another state dir`,
    );
    this.name = 'StateLockedError';
  }
}

export interface StateLock {
  readonly file: string;
  release(): void;
}

/**
 * Takes the lock or throws StateLockedError naming the holder's PID. Node has no flock(); util-linux's flock(1)
 * locks the open file description we hand it as fd 3, which stays ours after it exits. The kernel drops the lock
 * when the last descriptor closes — at release() or when this process dies, even by SIGKILL — so a crashed daemon
 * never leaves a stale lock behind. The PID written into the file is only for the message: the lock is the truth.
 */
export function acquireStateLock(stateDir: string): StateLock {
  const file = path.join(stateDir, LOCK_FILE_NAME);
  // Node opens with O_CLOEXEC: BMC tool children (ipmitool) never inherit the lock and outlive us with it.
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  const r = spawnSync('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(CONFLICT_EXIT), '3'], {
    stdio: ['ignore', 'ignore', 'pipe', fd],
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    const holder = r.status === CONFLICT_EXIT ? readPid(fd) : null;
    fs.closeSync(fd);
    if (r.status === CONFLICT_EXIT) throw new StateLockedError(stateDir, holder);
    const why = r.error ? r.error.message : (r.stderr || `exit ${r.status}`).trim();
    throw new Error(`cannot lock ${file} with flock(1) (util-linux): ${why}`);
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  let open = true;
  return {
    file,
    release() {
      if (!open) return;
      open = false;
      fs.closeSync(fd);
    },
  };
}

function readPid(fd: number): number | null {
  const buf = Buffer.alloc(32);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  const pid = Number(buf.subarray(0, n).toString('utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}
