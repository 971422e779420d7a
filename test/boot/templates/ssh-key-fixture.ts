// OpenSSH public key lines built from fresh keys, for validator and template tests.

import { generateKeyPairSync } from 'node:crypto';

export function sshBlob(type: string, body: Buffer): string {
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const t = Buffer.from(type);
  return Buffer.concat([len(t.length), t, len(body.length), body]).toString('base64');
}

const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
export const ED25519 = `ssh-ed25519 ${sshBlob('ssh-ed25519', ed)}`;
export const RSA = `ssh-rsa ${sshBlob('ssh-rsa', Buffer.alloc(260, 7))}`;
export const ECDSA = `ecdsa-sha2-nistp256 ${sshBlob('ecdsa-sha2-nistp256', Buffer.alloc(72, 4))}`;
