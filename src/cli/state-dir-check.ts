// Before a command touches the state dir: is it the site the operator meant, can we use it, is the key safe?
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedConfig } from '../config.js';
import { databaseFile } from '../store/sqlite-store.js';

/** A problem with the state dir the person can fix; its message is one line that says how. */
export class StateDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateDirError';
  }
}

/** Where a new site's files came from, for serve's one log line. */
export interface StateDirFindings {
  /** No database yet: serve is about to create a new site here. */
  newSite: boolean;
  /** The key file existed before (a new site may be started with a provisioned key). */
  keyExisted: boolean;
}

/** Where else the operator may have meant: the demo's and the service's state dirs. */
const USUAL_STATE_DIRS = ['./var', './var/demo', '/var/lib/rackhand'];

/**
 * `use`: a bootstrap command — the database must exist (it never creates a new site, so a mistyped state dir
 * cannot make an empty one with a new key). `serve`: a new site is created only where there is no database;
 * a database without its key is refused (a new key would make every stored secret unreadable).
 */
export function checkStateDir(config: ResolvedConfig, purpose: 'serve' | 'use'): StateDirFindings {
  const dir = config.stateDir;
  const db = databaseFile(dir);
  const key = config.secrets.keyFile;
  const hasDb = fs.existsSync(db);
  const hasKey = fs.existsSync(key);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new StateDirError(`the state dir ${dir} is not a directory: set stateDir (or --state-dir, RACKHAND_STATE_DIR) to a directory`);
  if (purpose === 'use' && !hasDb) {
    const others = USUAL_STATE_DIRS.map((d) => path.resolve(d))
      .concat(subdirs(dir))
      .filter((d) => d !== dir && fs.existsSync(databaseFile(d)));
    const hint = others.length ? `; there is one in ${[...new Set(others)].join(' and ')}` : '';
    throw new StateDirError(`no rackhand database in ${dir} (looked for ${db}): point at the daemon's state dir with --state-dir DIR or RACKHAND_STATE_DIR${hint}`);
  }
  if (hasDb && !hasKey) {
    throw new StateDirError(
      `${dir} holds a database but its key file ${key} is missing: restore the key from your backup (stored BMC and console passwords cannot be read without it), or set secrets.keyFile to where it is`,
    );
  }
  if (purpose === 'serve') ensureDir(dir);
  requireAccess(dir, purpose === 'serve' ? 'the state dir' : 'the state dir', fs.constants.W_OK | fs.constants.R_OK | fs.constants.X_OK);
  if (hasDb) requireAccess(db, 'the database', fs.constants.R_OK | fs.constants.W_OK);
  if (hasKey) checkKeyFile(key);
  return { newSite: !hasDb, keyExisted: hasKey };
}

/** The key must be readable by us and nobody else. */
function checkKeyFile(key: string): void {
  requireAccess(key, 'the key file', fs.constants.R_OK);
  const mode = fs.statSync(key).mode & 0o777;
  if (mode & 0o077) {
    throw new StateDirError(`the key file ${key} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${key}`);
  }
}

function ensureDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new StateDirError(`cannot create the state dir ${dir}: ${reason(e)}: create it for ${whoAmI()} (mkdir -m 700 ${dir}) or set stateDir / RACKHAND_STATE_DIR`);
  }
}

function requireAccess(p: string, what: string, mode: number): void {
  try {
    fs.accessSync(p, mode);
  } catch (e) {
    const want = mode & fs.constants.W_OK ? 'writable' : 'readable';
    throw new StateDirError(`${what} ${p} is not ${want} by ${whoAmI()} (${reason(e)}): run rackhand as the user that owns it (e.g. sudo -u rackhand), or fix its owner and mode`);
  }
}

function subdirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(dir, d.name));
  } catch {
    return [];
  }
}

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code ?? String(e);
}

function whoAmI(): string {
  const uid = process.getuid?.();
  let name = '';
  try {
    name = os.userInfo().username;
  } catch {
    /* a uid without a passwd entry (containers) */
  }
  return `uid ${uid}${name ? ` (${name})` : ''}`;
}
