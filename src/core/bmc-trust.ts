// Which TLS certificate rackhand trusts for each Redfish BMC: the one pinned on first use, shown and, by an admin
// who knows the BMC's certificate was replaced, forgotten (the next connection pins what the BMC shows then).
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import type { CertificatePin } from '../bmc/redfish/certificate-pins.js';
import { endpointName } from '../bmc/redfish/redfish-http.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { CertificatePinsRepo } from '../store/repos/certificate-pins-repo.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';

/** A server's pinned certificate as the API shows it. */
export interface BmcCertificateView {
  server: number;
  endpoint: string;
  pinned: { fingerprint256: string; subject: string; validTo: string; pinnedAt: string } | null;
}

export class BmcTrust {
  constructor(
    private readonly servers: ServersRepo,
    private readonly pins: CertificatePinsRepo,
  ) {}

  certificate(p: Principal, serverId: number): BmcCertificateView {
    const endpoint = this.endpointOf(p, serverId);
    return { server: serverId, endpoint, pinned: this.pins.get(endpoint) ?? null };
  }

  /** Accept whatever certificate the BMC shows next: its pin is forgotten. Admin tokens only (audited as every write). */
  forgetCertificate(p: Principal, serverId: number): BmcCertificateView & { forgotten: CertificatePin | null } {
    requireAllowed(can.acceptBmcCertificates(p), "accept a BMC's new TLS certificate");
    const endpoint = this.endpointOf(p, serverId);
    const forgotten = this.pins.get(endpoint) ?? null;
    this.pins.forget(endpoint);
    return { server: serverId, endpoint, pinned: null, forgotten };
  }

  private endpointOf(p: Principal, serverId: number): string {
    const s = requireVisibleServer(p, this.servers.get(serverId), serverId);
    if (!s.bmc) throw new RackhandError('BMC_NOT_CONFIGURED', `server ${serverId} has no BMC configured`, { id: serverId });
    if (s.bmc.driver !== 'redfish' || s.bmc.scheme !== 'https') {
      throw new RackhandError('INVALID_INPUT', `server ${serverId}'s BMC is not reached over HTTPS (driver ${s.bmc.driver}, ${s.bmc.scheme}): it has no certificate`, { id: serverId });
    }
    return endpointName({ scheme: 'https', host: s.bmc.host, port: s.bmc.port });
  }
}
