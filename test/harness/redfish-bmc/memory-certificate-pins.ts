// Test harness: the redfish driver's certificate pins in memory (rackhand keeps them in SQLite).
import type { CertificatePin, CertificatePins } from '../../../src/bmc/redfish/certificate-pins.js';

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
