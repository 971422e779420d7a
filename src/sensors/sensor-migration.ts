// The sensor history table: one row per sensor per sample, for charts and the metrics' latest values.
import type { Migration } from '../store/migrations.js';

export const SENSOR_MIGRATION: Migration = {
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
};
