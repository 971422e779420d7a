// Schema of the switch inventory (SNMP credentials encrypted at rest) and a server's persistent suspended flag.
import type { Migration } from '../store/migrations.js';

export const SWITCH_MIGRATION: Migration = {
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
};
