// The discovered table's index by last sighting: the paged list sorts by it and pruning deletes by it.
import type { Migration } from '../migrations.js';

export const DISCOVERED_MIGRATION: Migration = {
  version: 120,
  name: 'discovered hosts by last sighting',
  sql: `CREATE INDEX discovered_last_seen ON discovered(last_seen);`,
};
