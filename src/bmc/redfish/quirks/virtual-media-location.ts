// Quirk adapter: the VirtualMedia collection hangs under the System on newer firmware (Redfish 2021.1) and under the
// Manager on older firmware: look in both, System first, and take the member that takes a CD/DVD.
import { RackhandError } from '../../../errors.js';
import type { RedfishClient, Resource } from '../redfish-client.js';
import { linkOf } from '../redfish-json.js';

export const virtualMediaLocation = {
  name: 'virtual-media-location',
  async find(client: RedfishClient, signal?: AbortSignal): Promise<{ device: Resource; at: 'Systems' | 'Managers' }> {
    const places: ['Systems' | 'Managers', string][] = [
      ['Systems', await client.systemPath(signal)],
      ['Managers', await client.managerPath(signal)],
    ];
    for (const [at, owner] of places) {
      const coll = linkOf((await client.get(owner, signal)).body.VirtualMedia);
      if (!coll) continue;
      const members = await Promise.all((await client.members(coll, signal)).map((m) => client.get(m, signal)));
      const cd = members.find((m) => Array.isArray(m.body.MediaTypes) && m.body.MediaTypes.some((t) => t === 'CD' || t === 'DVD'));
      if (cd) {
        client.quirks.add(`${this.name}:${at}`);
        return { device: cd, at };
      }
    }
    throw new RackhandError('BMC_UNSUPPORTED', `BMC ${client.name} offers no virtual CD/DVD (no VirtualMedia under its System or Manager)`, { bmc: client.name });
  },
};
