// The eq module's response shapes (api/eq/eq-shapes.ts) built from records read from the real schema.
import { describe, expect, it } from 'vitest';
import { eqListItem, eqServerData } from '../../src/api/eq/eq-shapes.js';
import { memoryStore, serverInput } from '../store/memory-store.js';

describe('eq list item', () => {
  it("carries server_data's fields with their values, then the list's own", () => {
    const store = memoryStore();
    store.servers.upsertMany([serverInput(7, { name: 'web-7', status: 'rent', location: 'AMS1', rack: 'R4', interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:07', ip: '10.1.0.7' }] })]);
    const server = store.servers.get(7)!;
    const item = eqListItem({ server, ips: [], deploy: null, owner: null });
    const data = eqServerData(server);
    // Written out rather than spread (see eqListItem): the same keys first, in the same order, with the same values.
    expect(Object.keys(item).slice(0, Object.keys(data).length)).toEqual(Object.keys(data));
    expect(item).toMatchObject(data);
    expect(item).toMatchObject({ id: 7, name: 'web-7', status: 'rent', location: 'AMS1', ip: '10.1.0.7', rack: 'R4', reinstall: '' });
  });
});
