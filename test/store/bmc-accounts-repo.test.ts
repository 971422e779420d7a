// BmcAccountsRepo on the real schema: the BMC logins rackhand made, counted per server, each name once.
import { beforeEach, describe, expect, it } from 'vitest';
import { memoryStore, serverInput, type MemoryStore } from './memory-store.js';
import { BmcAccountsRepo } from '../../src/store/repos/bmc-accounts-repo.js';

let store: MemoryStore;
let accounts: BmcAccountsRepo;
beforeEach(() => {
  store = memoryStore();
  accounts = new BmcAccountsRepo(store.db);
  store.servers.upsertMany([serverInput(1), serverInput(2)]);
});

describe('BmcAccountsRepo', () => {
  it('counts the accounts made per server, a name once however often it is recorded', () => {
    accounts.record(1, 'rh_a', 'operator');
    accounts.record(1, 'rh_b', 'administrator');
    accounts.record(1, 'rh_a', 'administrator');
    accounts.record(2, 'rh_a', 'operator');
    expect(accounts.count(1)).toBe(2);
    expect(accounts.count(2)).toBe(1);
    expect(accounts.count(3)).toBe(0);
    expect(store.db.prepare('SELECT privilege FROM bmc_accounts WHERE server_id = 1 AND name = ?').get('rh_a')).toEqual({ privilege: 'administrator' });
  });

  it('forgets a removed account on its server only', () => {
    accounts.record(1, 'rh_a', 'operator');
    accounts.record(2, 'rh_a', 'operator');
    accounts.forget(1, 'rh_a');
    accounts.forget(1, 'never-made');
    expect([accounts.count(1), accounts.count(2)]).toEqual([0, 1]);
  });

  it('forgets the accounts of a removed server', () => {
    accounts.record(1, 'rh_a', 'operator');
    store.servers.delete(1);
    expect(accounts.count(1)).toBe(0);
    expect(store.dump('bmc_accounts')).toBe('[]');
  });

  it('records accounts of known servers only', () => {
    expect(() => accounts.record(99, 'rh_a', 'operator')).toThrow(/FOREIGN KEY/);
  });
});
