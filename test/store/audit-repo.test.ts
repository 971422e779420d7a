// AuditRepo on the real schema: entries read back newest first, filtered (server, task, token, result, time) and
// paged with a total; pruning by age and by number.
import { beforeEach, describe, expect, it } from 'vitest';
import { memoryStore } from './memory-store.js';
import { AuditRepo, type AuditEntry } from '../../src/store/repos/audit-repo.js';

let audit: AuditRepo;
beforeEach(() => {
  audit = new AuditRepo(memoryStore().db);
});

const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 0, minute)).toISOString();
const entry = (minute: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  at: at(minute),
  tokenId: 1,
  tokenName: 'ops',
  role: 'admin',
  face: 'v1',
  method: 'POST',
  route: '/api/v1/servers/:id/power',
  action: null,
  serverId: 7,
  taskId: null,
  remote: '10.0.0.5',
  status: 202,
  errorCode: null,
  ...extra,
});

describe('AuditRepo', () => {
  it('reads back every field of an entry, newest first', () => {
    const first = audit.append(entry(0));
    const refused = audit.append(entry(1, { tokenId: null, tokenName: null, role: null, face: 'eq', route: '/api/eq', action: 'reboot', serverId: null, status: 401, errorCode: 'UNAUTHORIZED' }));
    expect(audit.list()).toEqual({
      total: 2,
      list: [
        { id: refused, ...entry(1, { tokenId: null, tokenName: null, role: null, face: 'eq', route: '/api/eq', action: 'reboot', serverId: null, status: 401, errorCode: 'UNAUTHORIZED' }) },
        { id: first, ...entry(0) },
      ],
    });
  });

  it('filters by server, task, token, result and time, together', () => {
    audit.append(entry(0, { serverId: 1, taskId: 10 }));
    audit.append(entry(1, { serverId: 2, status: 399 }));
    audit.append(entry(2, { serverId: 1, tokenId: 5, status: 400, errorCode: 'INVALID_INPUT' }));
    audit.append(entry(3, { serverId: 1, status: 502, errorCode: 'BMC_UNREACHABLE' }));
    const minutes = (f: Parameters<AuditRepo['list']>[0]) => audit.list(f).list.map((e) => new Date(e.at).getUTCMinutes());
    expect(minutes({ serverId: 1 })).toEqual([3, 2, 0]);
    expect(minutes({ taskId: 10 })).toEqual([0]);
    expect(minutes({ tokenId: 5 })).toEqual([2]);
    expect(minutes({ result: 'error' })).toEqual([3, 2]);
    expect(minutes({ result: 'ok' })).toEqual([1, 0]);
    expect(minutes({ since: at(1), until: at(2) })).toEqual([2, 1]);
    expect(minutes({ serverId: 1, result: 'error', until: at(2) })).toEqual([2]);
    expect(audit.list({ serverId: 1, limit: 1, offset: 1 })).toMatchObject({ total: 3, list: [{ serverId: 1, status: 400 }] });
  });

  it('prunes entries older than the cut, then the oldest beyond the number kept', () => {
    for (let m = 0; m < 10; m++) audit.append(entry(m));
    expect(audit.prune(at(3), 100)).toBe(3);
    expect(audit.count()).toBe(7);
    expect(audit.prune(at(0), 4)).toBe(3);
    expect(audit.list().list.map((e) => new Date(e.at).getUTCMinutes())).toEqual([9, 8, 7, 6]);
    expect(audit.prune(at(0), 4)).toBe(0);
  });
});
