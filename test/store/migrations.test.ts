// Migrations (store/sqlite-store.ts migrate, store/migrations.ts): applied in version order, each once, each in its
// own transaction; a version listed twice is an error before anything runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Db } from '../../src/store/sqlite-store.js';
import { MIGRATIONS, type Migration } from '../../src/store/migrations.js';

const open: Db[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function bare(): Db {
  const db = new Database(':memory:');
  open.push(db);
  return db;
}

const applied = (db: Db) =>
  db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY rowid').all() as { version: number; name: string; applied_at: string }[];
const tables = (db: Db) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);

describe('migrate', () => {
  it('applies migrations in version order, whatever order they are listed in', () => {
    const db = bare();
    const list: Migration[] = [
      { version: 20, name: 'third', sql: `INSERT INTO t (a, b) VALUES ('x', 'y')` },
      { version: 3, name: 'first', sql: 'CREATE TABLE t (a TEXT)' },
      { version: 7, name: 'second', sql: 'ALTER TABLE t ADD COLUMN b TEXT' },
    ];
    migrate(db, list);
    expect(applied(db).map((r) => [r.version, r.name])).toEqual([[3, 'first'], [7, 'second'], [20, 'third']]);
    expect(db.prepare('SELECT a, b FROM t').all()).toEqual([{ a: 'x', b: 'y' }]);
  });

  it('applies each migration once: a second run changes nothing, a later one applies only what is new', () => {
    const db = bare();
    const list: Migration[] = [
      { version: 1, name: 'table', sql: 'CREATE TABLE t (a INTEGER)' },
      { version: 2, name: 'row', sql: 'INSERT INTO t VALUES (1)' },
    ];
    migrate(db, list);
    const first = applied(db);
    migrate(db, list);
    expect(applied(db)).toEqual(first);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
    migrate(db, [...list, { version: 3, name: 'another row', sql: 'INSERT INTO t VALUES (2)' }]);
    expect(applied(db).map((r) => r.version)).toEqual([1, 2, 3]);
    expect(applied(db).slice(0, 2)).toEqual(first);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
  });

  it('refuses a version listed twice, naming it, before anything runs', () => {
    const db = bare();
    const list: Migration[] = [
      { version: 1, name: 'table', sql: 'CREATE TABLE t (a INTEGER)' },
      { version: 2, name: 'one', sql: 'INSERT INTO t VALUES (1)' },
      { version: 2, name: 'other', sql: 'INSERT INTO t VALUES (2)' },
    ];
    expect(() => migrate(db, list)).toThrow(/migration version 2 is listed twice/);
    expect(tables(db)).toEqual([]);
  });

  it('refuses a repeated version even when that version was applied before', () => {
    const db = bare();
    migrate(db, [{ version: 1, name: 'table', sql: 'CREATE TABLE t (a INTEGER)' }]);
    expect(() =>
      migrate(db, [
        { version: 1, name: 'table', sql: 'CREATE TABLE t (a INTEGER)' },
        { version: 1, name: 'reused', sql: 'CREATE TABLE u (a INTEGER)' },
      ]),
    ).toThrow(/listed twice/);
    expect(tables(db)).toEqual(['schema_migrations', 't']);
  });

  it('rolls a failing migration back whole and stops there', () => {
    const db = bare();
    const list: Migration[] = [
      { version: 1, name: 'ok', sql: 'CREATE TABLE t (a INTEGER)' },
      { version: 2, name: 'half', sql: 'CREATE TABLE u (a INTEGER); INSERT INTO nowhere VALUES (1);' },
      { version: 3, name: 'after', sql: 'CREATE TABLE v (a INTEGER)' },
    ];
    expect(() => migrate(db, list)).toThrow(/nowhere/);
    expect(applied(db).map((r) => r.version)).toEqual([1]);
    expect(tables(db)).toEqual(['schema_migrations', 't']);
  });
});

describe('the migration list', () => {
  it('has unique versions, and openDatabase applies all of them', () => {
    expect(new Set(MIGRATIONS.map((m) => m.version)).size).toBe(MIGRATIONS.length);
    const db = openDatabase(':memory:', MIGRATIONS);
    open.push(db);
    expect(applied(db).map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
    for (const t of ['servers', 'interfaces', 'tokens', 'users', 'tasks', 'task_steps', 'netboot', 'images', 'audit_log', 'bmc_accounts']) {
      expect(tables(db)).toContain(t);
    }
  });

  it('reopening a database file applies nothing again and keeps its data', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rh-migrate-${process.pid}-`));
    dirs.push(dir);
    const file = path.join(dir, 'state', 'rackhand.db');
    const first = openDatabase(file, MIGRATIONS);
    first.prepare(`INSERT INTO users (email, created_at) VALUES ('a@example.com', '2025-01-01')`).run();
    const before = applied(first);
    first.close();
    const again = openDatabase(file, MIGRATIONS);
    open.push(again);
    expect(applied(again)).toEqual(before);
    expect(again.prepare('SELECT email FROM users').all()).toEqual([{ email: 'a@example.com' }]);
    expect(again.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(again.pragma('journal_mode', { simple: true })).toBe('wal');
  });
});
