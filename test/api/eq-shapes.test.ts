// The eq module's response shapes (api/eq/eq-shapes.ts) built from records read from the real schema.
import { describe, expect, it } from 'vitest';
import { eqFullListItem, eqListItem, eqServerData, eqShow } from '../../src/api/eq/eq-shapes.js';
import { memoryStore, serverInput } from '../store/memory-store.js';

function view() {
  const store = memoryStore();
  store.servers.upsertMany([serverInput(7, { name: 'web-7', status: 'rent', location: 'AMS1', rack: 'R4', interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:07', ip: '10.1.0.7' }] })]);
  return { server: store.servers.get(7)!, ips: [], deploy: null, owner: null };
}

describe('eq list item', () => {
  it("carries server_data's fields with their values, then the list's own", () => {
    const server = view().server;
    const item = eqListItem(view());
    const data = eqServerData(server);
    // Written out rather than spread (see eqListItem): the same keys first, in the same order, with the same values.
    expect(Object.keys(item).slice(0, Object.keys(data).length)).toEqual(Object.keys(data));
    expect(item).toMatchObject(data);
    expect(item).toMatchObject({ id: 7, name: 'web-7', status: 'rent', location: 'AMS1', ip: '10.1.0.7', rack: 'R4', reinstall: '' });
  });

  it('with full=1 is the list item and the show shape together, the show winning where both have a field', () => {
    const v = view();
    expect(eqFullListItem(v)).toEqual({ ...eqListItem(v), ...eqShow(v) });
    expect(eqFullListItem(v)).toMatchObject({ id: 7, rack: 'R4', location: { location_name: 'AMS1' }, server_data: { id: 7 } });
  });
});
