// Schema of the IP address manager: networks, pools with their ranges, and the addresses given to servers.
import type { Migration } from '../store/migrations.js';

export const IPAM_MIGRATION: Migration = {
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
};
