// The bmc_accounts table: BMC logins rackhand created for callers, so their number per BMC can be bounded.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';

export class BmcAccountsRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(db: Db) {
    this.sql = statements(db);
  }

  record(serverId: number, name: string, privilege: string): void {
    this.sql('INSERT OR REPLACE INTO bmc_accounts (server_id, name, privilege, created_at) VALUES (?, ?, ?, ?)').run(serverId, name, privilege, nowIso());
  }

  forget(serverId: number, name: string): void {
    this.sql('DELETE FROM bmc_accounts WHERE server_id = ? AND name = ?').run(serverId, name);
  }

  count(serverId: number): number {
    return (this.sql('SELECT count(*) AS n FROM bmc_accounts WHERE server_id = ?').get(serverId) as { n: number }).n;
  }
}
