// Every schema migration of the store, numbered; each runs once, in order, inside a transaction. The agent passes
// this list to openDatabase. Versions are never reused or renumbered (databases in the field have applied them);
// a new migration takes the next number above the highest here.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
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
  {
    version: 100,
    name: 'ipam: networks, pools, addresses',
    sql: `
      CREATE TABLE ip_networks (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,             -- canonical CIDR, as DCImanager names networks
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        network TEXT NOT NULL,                 -- canonical network address
        prefix INTEGER NOT NULL,
        gateway TEXT,
        vlan TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        dns TEXT NOT NULL DEFAULT '[]',        -- JSON array of resolvers handed to hosts
        userspace INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      );
  
      CREATE TABLE ip_pools (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        note TEXT NOT NULL DEFAULT '',
        is_public INTEGER NOT NULL DEFAULT 0,
        userspace INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      );
  
      -- first/last are hex of the address value, zero-padded to 32 digits, so text order is numeric order.
      CREATE TABLE ip_pool_ranges (
        id INTEGER PRIMARY KEY,
        pool_id INTEGER NOT NULL REFERENCES ip_pools(id) ON DELETE CASCADE,
        network_id INTEGER NOT NULL REFERENCES ip_networks(id) ON DELETE RESTRICT,
        first_key TEXT NOT NULL,
        last_key TEXT NOT NULL,
        CHECK (first_key <= last_key)
      );
      CREATE INDEX ip_pool_ranges_pool ON ip_pool_ranges(pool_id);
      CREATE INDEX ip_pool_ranges_network ON ip_pool_ranges(network_id);
  
      CREATE TABLE ip_addresses (
        id INTEGER PRIMARY KEY,
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        ip TEXT NOT NULL,                      -- canonical text
        ip_key TEXT NOT NULL,                  -- same zero-padded hex as the ranges
        network_id INTEGER NOT NULL REFERENCES ip_networks(id) ON DELETE RESTRICT,
        pool_id INTEGER REFERENCES ip_pools(id) ON DELETE SET NULL,
        domain TEXT NOT NULL DEFAULT '',
        is_main INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'active',
        userspace INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      );
      -- The guarantee that no address is ever given twice, whatever the code above it does.
      CREATE UNIQUE INDEX ip_addresses_unique_ip ON ip_addresses(family, ip_key);
      CREATE UNIQUE INDEX ip_addresses_one_main ON ip_addresses(server_id) WHERE is_main = 1;
      CREATE INDEX ip_addresses_server ON ip_addresses(server_id);
      CREATE INDEX ip_addresses_network ON ip_addresses(network_id, ip_key);
    `,
  },
  {
    version: 101,
    name: 'switches and suspended servers',
    sql: `
      CREATE TABLE switches (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,             -- what interfaces.switch refers to
        host TEXT NOT NULL,
        port INTEGER NOT NULL DEFAULT 161,
        snmp_version TEXT NOT NULL CHECK (snmp_version IN ('v2c', 'v3')),
        community_enc TEXT,                    -- SecretBox, context switch:<name>:community
        v3_user TEXT,
        v3_auth_key_enc TEXT,                  -- SHA; context switch:<name>:auth
        v3_priv_key_enc TEXT,                  -- AES; context switch:<name>:priv
        note TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
  
      ALTER TABLE servers ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE servers ADD COLUMN suspended_at TEXT;
    `,
  },
  {
    version: 110,
    name: 'sensor history',
    sql: `
      CREATE TABLE sensor_readings (
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        -- epoch milliseconds: compact, and range scans compare integers
        at INTEGER NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        value REAL,
        unit TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL
      );
      CREATE INDEX sensor_readings_server_at ON sensor_readings(server_id, at);
      -- pruning by age scans this one
      CREATE INDEX sensor_readings_at ON sensor_readings(at);
    `,
  },
  {
    version: 120,
    name: 'discovered hosts by last sighting',
    sql: `
      -- The paged list sorts by it and pruning deletes by it.
      CREATE INDEX discovered_last_seen ON discovered(last_seen);
    `,
  },
  {
    version: 200,
    name: 'resumable tasks: step results, waits and signals',
    sql: `
      -- What a finished step returned, replayed when a task resumes after a restart.
      ALTER TABLE task_steps ADD COLUMN result TEXT;
      -- A running task waiting for a signal (the installer's callback) resumes after a restart.
      ALTER TABLE tasks ADD COLUMN waiting_for TEXT;
      ALTER TABLE tasks ADD COLUMN wait_deadline TEXT;
      CREATE TABLE task_signals (
        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        payload TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (task_id, name)
      );
    `,
  },
  {
    version: 201,
    name: 'BMC accounts rackhand created',
    sql: `
      CREATE TABLE bmc_accounts (
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        privilege TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (server_id, name)
      );
    `,
  },
  {
    version: 300,
    name: 'billing facts on servers; IPAM addresses found by their text',
    sql: `
      -- eq update_servers' billing_servers: what central's billing keeps here (null: not given).
      ALTER TABLE servers ADD COLUMN recurring REAL;
      ALTER TABLE servers ADD COLUMN nextduedate TEXT;
      ALTER TABLE servers ADD COLUMN billingcycle TEXT;
      -- eq list ip= finds a server by any address IPAM gave it.
      CREATE INDEX ip_addresses_ip ON ip_addresses(ip);
    `,
  },
  {
    version: 301,
    name: 'a narrow index of server ids for paging',
    sql: `
      -- A page at offset 25,000 walks the ids in this index (a few dozen pages), not the table's b-tree, whose
      -- leaves hold whole rows (thousands of pages).
      CREATE INDEX servers_page ON servers(id);
    `,
  },
  {
    version: 350,
    name: 'audit log',
    sql: `
      -- Every mutating request on the API faces: who (token), what (route, server, task), from where, result.
      -- Never a body value: nothing here can be a secret.
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        token_id INTEGER,                      -- null: no valid token was presented
        token_name TEXT,
        role TEXT,
        face TEXT NOT NULL,
        method TEXT NOT NULL,
        route TEXT NOT NULL,                   -- the route pattern, e.g. /api/v1/servers/:id/power
        action TEXT,                           -- eq: the action
        server_id INTEGER,
        task_id INTEGER,
        remote TEXT NOT NULL,
        status INTEGER NOT NULL,
        error_code TEXT
      );
      CREATE INDEX audit_log_at ON audit_log(at);
      CREATE INDEX audit_log_server ON audit_log(server_id, id) WHERE server_id IS NOT NULL;
      CREATE INDEX audit_log_token ON audit_log(token_id, id);
    `,
  },
  {
    version: 351,
    name: 'boot history',
    sql: `
      -- What the boot plane did for each host (DHCP, TFTP, HTTP boot, installer reports), bounded per host and in all.
      CREATE TABLE boot_events (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,                   -- epoch milliseconds
        host TEXT NOT NULL,                    -- the bound's key: server:<id>, else mac:<mac>, else ip:<address>
        server_id INTEGER,                     -- no foreign key: a host's history outlives its inventory record
        mac TEXT,
        ip TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX boot_events_host ON boot_events(host, id);
      CREATE INDEX boot_events_server ON boot_events(server_id, id) WHERE server_id IS NOT NULL;
      CREATE INDEX boot_events_mac ON boot_events(mac, id) WHERE mac IS NOT NULL;
      CREATE INDEX boot_events_at ON boot_events(at);
    `,
  },
  {
    version: 352,
    name: 'last BMC error per server',
    sql: `
      -- The code of the last failed BMC call (BMC_AUTH_FAILED…); null once a call succeeds.
      ALTER TABLE servers ADD COLUMN bmc_error TEXT;
    `,
  },
  {
    version: 400,
    name: 'OS images and inspected hardware',
    sql: `
      -- Images rackhand serves to booting hosts: the ramdisk it builds, installer netboot files, disk images.
      -- The bytes live content-addressed under the images directory; this table names them.
      CREATE TABLE images (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('ramdisk', 'netboot', 'disk')),
        source TEXT NOT NULL,
        -- JSON [{file, sha256, sizeBytes, format?}]: what /boot/images/<name>/<file> serves
        files TEXT NOT NULL,
        -- JSON: the ramdisk's build manifest (package versions, hashes)
        manifest TEXT,
        -- JSON {ids: [n], name}: a disk image offered as an operating system (eq os_id)
        os TEXT,
        created_at TEXT NOT NULL
      );

      -- What the rackhand ramdisk found in a server (operation_diag, an adopted host's inspection).
      CREATE TABLE server_hardware (
        server_id INTEGER PRIMARY KEY REFERENCES servers(id) ON DELETE CASCADE,
        inventory TEXT NOT NULL,
        inspected_at TEXT NOT NULL,
        task_id INTEGER
      );
    `,
  },
  {
    version: 401,
    name: 'netboot purposes: rescue',
    sql: `
      -- SQLite cannot change a CHECK constraint: the table is rebuilt with the new purpose allowed.
      CREATE TABLE netboot_next (
        server_id INTEGER PRIMARY KEY REFERENCES servers(id) ON DELETE CASCADE,
        purpose TEXT NOT NULL CHECK (purpose IN ('install','diag','wipe','rescue')),
        os_id TEXT NOT NULL,
        params TEXT NOT NULL,
        token_sealed TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        task_id INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
        armed_at TEXT NOT NULL,
        callback_at TEXT,
        callback_status TEXT
      );
      INSERT INTO netboot_next SELECT server_id, purpose, os_id, params, token_sealed, token_hash, task_id, armed_at, callback_at, callback_status FROM netboot;
      DROP TABLE netboot;
      ALTER TABLE netboot_next RENAME TO netboot;
    `,
  },
  {
    version: 450,
    name: 'redfish BMCs: scheme, legacy TLS, how deploys boot, certificate pins',
    sql: `
      ALTER TABLE servers ADD COLUMN bmc_scheme TEXT NOT NULL DEFAULT 'https' CHECK (bmc_scheme IN ('https', 'http'));
      ALTER TABLE servers ADD COLUMN bmc_legacy_tls INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE servers ADD COLUMN boot_via TEXT NOT NULL DEFAULT 'pxe' CHECK (boot_via IN ('pxe', 'virtual_media', 'http'));
      -- The TLS certificate each Redfish BMC endpoint ("host:port") showed first: a changed one is refused until an
      -- operator forgets the pin (rackhand bmc forget-certificate).
      CREATE TABLE bmc_certificate_pins (
        endpoint TEXT PRIMARY KEY,
        fingerprint256 TEXT NOT NULL,
        subject TEXT NOT NULL,
        valid_to TEXT NOT NULL,
        pinned_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 451,
    name: 'BMC event logs: what was seen, critical entries counted',
    sql: `
      -- Per server, the entries of the last read (hashed) and how many critical ones rackhand has seen appear in all:
      -- a later read counts only entries it did not see before, across restarts.
      CREATE TABLE bmc_event_log_seen (
        server_id INTEGER PRIMARY KEY REFERENCES servers(id) ON DELETE CASCADE,
        entry_keys TEXT NOT NULL,
        critical_total INTEGER NOT NULL DEFAULT 0,
        read_at TEXT NOT NULL
      );
    `,
  },
];
