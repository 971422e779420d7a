// Where the redfish driver keeps the TLS certificate each BMC showed first (trust on first use), and an in-memory one.

/** The certificate a BMC endpoint was first seen with. */
export interface CertificatePin {
  /** SHA-256 of the DER leaf certificate, upper-case hex pairs joined by ':' (node's X509 fingerprint256). */
  fingerprint256: string;
  /** Subject and validity, so a refusal can tell a person which certificate it expected. */
  subject: string;
  validTo: string;
  /** ISO time the pin was recorded. */
  pinnedAt: string;
}

/**
 * The pin store, keyed by the BMC endpoint "host:port". Synchronous: it is read once per new TLS connection, before
 * any request (a SQLite table of one row per endpoint fits: bmc_endpoint TEXT PRIMARY KEY, fingerprint256, subject,
 * valid_to, pinned_at).
 */
export interface CertificatePins {
  get(endpoint: string): CertificatePin | undefined;
  /** Records a first-seen certificate. Never replaces an existing pin: a changed certificate is refused, not learnt. */
  record(endpoint: string, pin: CertificatePin): void;
  /** An operator accepts a replaced certificate: the next connection pins whatever the BMC shows then. */
  forget(endpoint: string): boolean;
}

export class MemoryCertificatePins implements CertificatePins {
  private readonly pins = new Map<string, CertificatePin>();

  get(endpoint: string): CertificatePin | undefined {
    return this.pins.get(endpoint);
  }

  record(endpoint: string, pin: CertificatePin): void {
    if (!this.pins.has(endpoint)) this.pins.set(endpoint, pin);
  }

  forget(endpoint: string): boolean {
    return this.pins.delete(endpoint);
  }
}
