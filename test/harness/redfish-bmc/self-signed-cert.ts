// Test harness: TLS certificates for emulated BMCs, made by Debian's openssl: self-signed (as a BMC makes its own), or
// issued by a test site CA.

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCert {
  key: string; // PEM
  cert: string; // PEM
  /** SHA-256 of the DER certificate, upper-case hex pairs joined by ':' (what node's X509Certificate prints). */
  fingerprint256: string;
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const sans = (ips: string[]) => `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`;

/** Runs openssl steps in a scratch dir and returns the key.pem + cert.pem they leave there. */
function openssl(steps: (dir: string) => string[][]): SelfSignedCert {
  const dir = mkdtempSync(join(tmpdir(), `rh-cert-${process.pid}-`));
  try {
    for (const args of steps(dir)) execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert, fingerprint256: new X509Certificate(cert).fingerprint256 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh P-256 key and a certificate for CN=<cn> with IP SANs; every call gives a different certificate. */
export function makeSelfSignedCert(cn = 'rackhand-test-bmc', ips: string[] = ['127.0.0.1']): SelfSignedCert {
  return openssl((d) => [['req', '-x509', ...NEW_KEY, '-days', '3', '-subj', `/CN=${cn}`, '-addext', sans(ips), '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem')]]);
}

/** What old BMC firmware carries: a 1024-bit RSA key, SHA-1 signed. */
export function makeLegacyCert(cn = 'rackhand-test-old-bmc'): SelfSignedCert {
  return openssl((d) => [['req', '-x509', '-newkey', 'rsa:1024', '-sha1', '-nodes', '-days', '3', '-subj', `/CN=${cn}`, '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem')]]);
}

/** A site CA (CA:TRUE) to issue BMC certificates with. */
export function makeTestCa(cn = 'rackhand-test-site-ca'): SelfSignedCert {
  return openssl((d) => [[
    'req', '-x509', ...NEW_KEY, '-days', '3', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem'),
  ]]);
}

/** A BMC certificate for CN=<cn> with IP SANs, issued by `ca`. */
export function makeCertSignedBy(ca: SelfSignedCert, cn = 'rackhand-test-bmc', ips: string[] = ['127.0.0.1']): SelfSignedCert {
  return openssl((d) => {
    writeFileSync(join(d, 'ca.key'), ca.key, { mode: 0o600 });
    writeFileSync(join(d, 'ca.pem'), ca.cert);
    writeFileSync(join(d, 'ext.cnf'), `${sans(ips)}\nextendedKeyUsage=serverAuth\n`);
    return [
      ['req', '-new', ...NEW_KEY, '-subj', `/CN=${cn}`, '-keyout', join(d, 'key.pem'), '-out', join(d, 'req.csr')],
      ['x509', '-req', '-in', join(d, 'req.csr'), '-CA', join(d, 'ca.pem'), '-CAkey', join(d, 'ca.key'), '-CAcreateserial', '-days', '3',
        '-extfile', join(d, 'ext.cnf'), '-out', join(d, 'cert.pem')],
    ];
  });
}

let shared: SelfSignedCert | undefined;

/** One certificate for every emulator of this process that does not need its own (a farm of 200). */
export function sharedTestCert(): SelfSignedCert {
  shared ??= makeSelfSignedCert();
  return shared;
}
