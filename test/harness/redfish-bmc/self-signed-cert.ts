// Test harness: self-signed TLS certificates for emulated BMCs, made by Debian's openssl (as a BMC makes its own).

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCert {
  key: string; // PEM
  cert: string; // PEM
  /** SHA-256 of the DER certificate, upper-case hex pairs joined by ':' (what node's X509Certificate prints). */
  fingerprint256: string;
}

/** A fresh P-256 key and a certificate for CN=<cn> with IP SANs; every call gives a different certificate. */
export function makeSelfSignedCert(cn = 'rackhand-test-bmc', ips: string[] = ['127.0.0.1']): SelfSignedCert {
  const dir = mkdtempSync(join(tmpdir(), `rh-cert-${process.pid}-`));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3',
      '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert, fingerprint256: new X509Certificate(cert).fingerprint256 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let shared: SelfSignedCert | undefined;

/** One certificate for every emulator of this process that does not need its own (a farm of 200). */
export function sharedTestCert(): SelfSignedCert {
  shared ??= makeSelfSignedCert();
  return shared;
}
