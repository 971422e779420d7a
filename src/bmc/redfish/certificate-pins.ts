// Where the redfish driver keeps the TLS certificate each BMC showed first (trust on first use): the interface the
// SQLite store implements (store/repos/certificate-pins-repo.ts).

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

/** The pin store, keyed by the BMC endpoint "host:port". Synchronous: it is read once per new TLS connection, before any request. */
export interface CertificatePins {
  get(endpoint: string): CertificatePin | undefined;
  /** Records a first-seen certificate. Never replaces an existing pin: a changed certificate is refused, not learnt. */
  record(endpoint: string, pin: CertificatePin): void;
  /** An operator accepts a replaced certificate: the next connection pins whatever the BMC shows then. */
  forget(endpoint: string): boolean;
  /** What a person runs to accept a changed certificate of this endpoint (shown in the refusal). */
  acceptHint?(endpoint: string): string;
}
