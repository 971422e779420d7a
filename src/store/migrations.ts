// Numbered schema migrations; each runs once, in order, inside a transaction. 1-99 are the core's; parts
// that own their tables (IPAM 100, switches 101, sensors 110) keep their SQL beside their code.
import { IPAM_MIGRATION } from '../ipam/ipam-migration.js';
import { SWITCH_MIGRATION } from '../switch/switch-migration.js';
import { SENSOR_MIGRATION } from '../sensors/sensor-migration.js';
import { DISCOVERED_MIGRATION } from './repos/discovered-migration.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const CORE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'inventory, users, tokens, tasks',
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        full_name TEXT NOT NULL DEFAULT '',
        phone_number TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT 'user',
        password_hash TEXT,
        vlans_per_user INTEGER NOT NULL DEFAULT 5,
        created_at TEXT NOT NULL
      );

      CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin','central','tech','client')),
        owner_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
        hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
      );

      CREATE TABLE servers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'free',
        type TEXT NOT NULL DEFAULT 'Server',
        location TEXT NOT NULL DEFAULT '',
        location_id INTEGER,
        datacenter TEXT NOT NULL DEFAULT '',
        rack TEXT NOT NULL DEFAULT '',
        rack_position INTEGER,
        configuration TEXT NOT NULL DEFAULT '',
        preset TEXT NOT NULL DEFAULT '',
        os_id INTEGER,
        os_name TEXT NOT NULL DEFAULT '',
        owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        groups TEXT NOT NULL DEFAULT '[]',
        hardware TEXT NOT NULL DEFAULT '[]',
        bmc_driver TEXT,
        bmc_host TEXT,
        bmc_port INTEGER,
        bmc_username TEXT,
        bmc_password_enc TEXT,
        bmc_model TEXT NOT NULL DEFAULT '',
        bmc_mac TEXT,
        bmc_cipher_suite INTEGER NOT NULL DEFAULT 3,
        bmc_privilege TEXT NOT NULL DEFAULT 'administrator',
        console_type TEXT,
        console_host TEXT,
        console_port INTEGER,
        console_password_enc TEXT,
        power_state TEXT NOT NULL DEFAULT 'unknown',
        power_read_at TEXT,
        bmc_reachable INTEGER,
        bmc_checked_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX servers_status ON servers(status);
      CREATE INDEX servers_owner ON servers(owner_id);
      CREATE INDEX servers_location ON servers(location);

      CREATE TABLE interfaces (
        id INTEGER PRIMARY KEY,
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        mac TEXT NOT NULL UNIQUE,
        ip TEXT,
        switch TEXT,
        switch_port TEXT
      );
      CREATE INDEX interfaces_server ON interfaces(server_id);
      CREATE INDEX interfaces_ip ON interfaces(ip);

      CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        server_id INTEGER REFERENCES servers(id) ON DELETE SET NULL,
        mutating INTEGER NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
        result TEXT,
        error_code TEXT,
        error_message TEXT,
        requested_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
      );
      CREATE INDEX tasks_server ON tasks(server_id, state);
      CREATE INDEX tasks_state ON tasks(state);
      -- The per-server lock, enforced by the database: at most one unfinished mutating task per server.
      CREATE UNIQUE INDEX tasks_one_mutating_per_server ON tasks(server_id)
        WHERE mutating = 1 AND state IN ('queued','running');

      CREATE TABLE task_steps (
        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (task_id, seq)
      );
    `,
  },
  {
    version: 2,
    name: 'netboot state and discovered clients',
    sql: `
      -- One row per host whose network boot is armed; no row = boot from disk.
      CREATE TABLE netboot (
        server_id INTEGER PRIMARY KEY REFERENCES servers(id) ON DELETE CASCADE,
        purpose TEXT NOT NULL CHECK (purpose IN ('install','diag','wipe')),
        os_id TEXT NOT NULL,
        -- Template inputs; the root password only as its SHA-512 crypt hash.
        params TEXT NOT NULL,
        -- Installer callback token: sealed (to render it into the host's scripts) and hashed (to look it up).
        token_sealed TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        task_id INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
        armed_at TEXT NOT NULL,
        callback_at TEXT,
        callback_status TEXT
      );

      CREATE TABLE discovered (
        mac TEXT PRIMARY KEY,
        arch INTEGER,
        vendor_class TEXT,
        user_class TEXT,
        uuid TEXT,
        relay TEXT,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        seen_count INTEGER NOT NULL DEFAULT 1
      );
    `,
  },
  {
    version: 3,
    name: 'console sessions and tickets',
    sql: `
      CREATE TABLE console_sessions (
        id INTEGER PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        opened_by TEXT NOT NULL,
        white_ip TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        ended_at TEXT,
        end_reason TEXT,
        connections INTEGER NOT NULL DEFAULT 0,
        bytes_up INTEGER NOT NULL DEFAULT 0,
        bytes_down INTEGER NOT NULL DEFAULT 0,
        last_remote TEXT
      );
      CREATE INDEX console_sessions_server ON console_sessions(server_id, ended_at);

      CREATE TABLE console_tickets (
        hash TEXT PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES console_sessions(id) ON DELETE CASCADE,
        expires_at TEXT NOT NULL,
        used_at TEXT
      );
    `,
  },
];

export const MIGRATIONS: Migration[] = [...CORE_MIGRATIONS, IPAM_MIGRATION, SWITCH_MIGRATION, SENSOR_MIGRATION, DISCOVERED_MIGRATION];
