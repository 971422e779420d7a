// NetbootRepo on the real schema: one armed boot per host, its installer token sealed (to render) and hashed (to look
// up) but never stored in clear, single-use callbacks, re-arming replaces the token, disarm forgets it.
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { memoryStore, serverInput, type MemoryStore } from './memory-store.js';
import { NetbootRepo } from '../../src/store/repos/netboot-repo.js';

let store: MemoryStore;
let netboot: NetbootRepo;
beforeEach(() => {
  store = memoryStore();
  netboot = new NetbootRepo(store.db, store.secrets);
  store.servers.upsertMany([serverInput(1), serverInput(2)]);
});

const arm = (serverId: number, extra: Partial<Parameters<NetbootRepo['arm']>[0]> = {}) =>
  netboot.arm({ serverId, purpose: 'install', osId: 'debian-12', params: { hostname: 'web1', root_password_hash: '$6$salt$hash' }, taskId: null, ...extra });

describe('arm', () => {
  it('hands back the state with a fresh token, and stores that token only sealed and hashed', () => {
    const nb = arm(1);
    expect(nb).toEqual({
      serverId: 1,
      purpose: 'install',
      osId: 'debian-12',
      params: { hostname: 'web1', root_password_hash: '$6$salt$hash' },
      token: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      taskId: null,
      armedAt: expect.any(String),
      callbackAt: null,
      callbackStatus: null,
    });
    const row = store.db.prepare('SELECT * FROM netboot WHERE server_id = 1').get() as Record<string, string>;
    expect(row.token_hash).toBe(createHash('sha256').update(nb.token).digest('hex'));
    expect(row.token_sealed).toMatch(/^v1:/);
    expect(store.dump('netboot')).not.toContain(nb.token);
    expect(netboot.get(1)!.token).toBe(nb.token);
  });

  it('binds the sealed token to its host: moved to another row it does not open', () => {
    arm(1);
    arm(2);
    const sealed = (store.db.prepare('SELECT token_sealed FROM netboot WHERE server_id = 1').get() as { token_sealed: string }).token_sealed;
    store.db.prepare('UPDATE netboot SET token_sealed = ? WHERE server_id = 2').run(sealed);
    expect(() => netboot.get(2)).toThrow();
  });

  it('re-arming replaces the token and forgets the earlier callback', () => {
    const first = arm(1, { purpose: 'diag', osId: 'rackhand-diag' });
    netboot.consumeCallback(first.token, 'ok');
    const task = store.tasks.insert({ kind: 'deploy', serverId: 1, mutating: true, params: {}, requestedBy: 't' });
    const second = arm(1, { purpose: 'rescue', taskId: task });
    expect(second.token).not.toBe(first.token);
    expect(second).toMatchObject({ purpose: 'rescue', taskId: task, callbackAt: null, callbackStatus: null });
    expect(netboot.findByToken(first.token)).toBeUndefined();
    expect(netboot.consumeCallback(first.token, 'ok')).toBeUndefined();
    expect(netboot.all().map((n) => n.serverId)).toEqual([1]);
  });

  it('gives every host its own token', () => {
    const tokens = new Set([arm(1).token, arm(2).token, arm(1).token, arm(2).token]);
    expect(tokens.size).toBe(4);
  });

  it('refuses a purpose the table does not know', () => {
    expect(() => arm(1, { purpose: 'party' as never })).toThrow(/CHECK constraint/);
    expect(netboot.get(1)).toBeUndefined();
  });
});

describe('the installer callback', () => {
  it('is single use: the first report is recorded, any later one and an unknown token are refused', () => {
    const nb = arm(1);
    expect(netboot.findByToken(nb.token)?.serverId).toBe(1);
    const done = netboot.consumeCallback(nb.token, 'failed: DISK_NOT_FOUND');
    expect(done).toMatchObject({ serverId: 1, callbackStatus: 'failed: DISK_NOT_FOUND', callbackAt: expect.any(String), token: nb.token });
    expect(netboot.consumeCallback(nb.token, 'ok')).toBeUndefined();
    expect(netboot.get(1)!.callbackStatus).toBe('failed: DISK_NOT_FOUND');
    expect(netboot.consumeCallback('not-a-token', 'ok')).toBeUndefined();
    // The hash is not a token.
    const hash = createHash('sha256').update(arm(2).token).digest('hex');
    expect(netboot.findByToken(hash)).toBeUndefined();
    expect(netboot.consumeCallback(hash, 'ok')).toBeUndefined();
  });
});

describe('disarm', () => {
  it('forgets the host and its token; says whether anything was armed', () => {
    const nb = arm(1);
    expect(netboot.disarm(1)).toBe(true);
    expect(netboot.disarm(1)).toBe(false);
    expect(netboot.get(1)).toBeUndefined();
    expect(netboot.findByToken(nb.token)).toBeUndefined();
    expect(netboot.consumeCallback(nb.token, 'ok')).toBeUndefined();
  });

  it('happens when the server is removed', () => {
    arm(1);
    store.servers.delete(1);
    expect(netboot.all()).toEqual([]);
  });
});
