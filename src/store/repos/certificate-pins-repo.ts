// The bmc_certificate_pins table: the TLS certificate each Redfish BMC endpoint showed first (trust on first use).
import type { CertificatePin, CertificatePins } from '../../bmc/redfish/certificate-pins.js';
import type { Db } from '../sqlite-store.js';
import { statements } from '../sqlite-store.js';

interface PinRow {
  endpoint: string;
  fingerprint256: string;
  subject: string;
  valid_to: string;
  pinned_at: string;
}

export class CertificatePinsRepo implements CertificatePins {
  private readonly sql: ReturnType<typeof statements>;

  constructor(db: Db) {
    this.sql = statements(db);
  }

  get(endpoint: string): CertificatePin | undefined {
    const r = this.sql('SELECT * FROM bmc_certificate_pins WHERE endpoint = ?').get(endpoint) as PinRow | undefined;
    return r && { fingerprint256: r.fingerprint256, subject: r.subject, validTo: r.valid_to, pinnedAt: r.pinned_at };
  }

  /** The first certificate wins: a pin is never replaced here, only forgotten. */
  record(endpoint: string, pin: CertificatePin): void {
    this.sql('INSERT OR IGNORE INTO bmc_certificate_pins (endpoint, fingerprint256, subject, valid_to, pinned_at) VALUES (?, ?, ?, ?, ?)').run(
      endpoint,
      pin.fingerprint256,
      pin.subject,
      pin.validTo,
      pin.pinnedAt,
    );
  }

  forget(endpoint: string): boolean {
    return this.sql('DELETE FROM bmc_certificate_pins WHERE endpoint = ?').run(endpoint).changes > 0;
  }

  /** The command that accepts a new certificate for this endpoint: forget-certificate with the server's id. */
  acceptHint(endpoint: string): string {
    const cut = endpoint.lastIndexOf(':');
    const host = endpoint.slice(0, cut).replace(/^\[(.*)\]$/, '$1');
    const port = Number(endpoint.slice(cut + 1));
    const r = this.sql(
      `SELECT id FROM servers WHERE bmc_driver = 'redfish' AND bmc_host = ?
         AND coalesce(bmc_port, CASE bmc_scheme WHEN 'http' THEN 80 ELSE 443 END) = ? ORDER BY id LIMIT 1`,
    ).get(host, port) as { id: number } | undefined;
    return `rackhand bmc forget-certificate ${r ? r.id : 'SERVER_ID'}`;
  }
}
