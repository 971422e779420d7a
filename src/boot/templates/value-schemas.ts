// Zod schemas for every value that can reach a boot script, a kernel command line or an install config.
// Each one is a whitelist: whatever could end a token, a line or a quoted string (whitespace, quotes,
// backticks, `$`, `;`, `\`, `|`, `<>`, `{}`, control characters) is simply not in the alphabet.

import { isIPv6 } from 'node:net';
import { z } from 'zod';

const LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function isDnsName(s: string): boolean {
  return s.length >= 1 && s.length <= 253 && s.split('.').every((l) => LABEL_RE.test(l));
}

/** RFC 1123 host name: dot-separated labels of 1-63 letters/digits/hyphens (no edge hyphen), 253 max. */
export const hostnameSchema = z
  .string()
  .max(253)
  .refine(isDnsName, { message: 'hostname must be RFC 1123: labels of letters, digits and inner hyphens, 1-63 each, 253 total' });

/** A single RFC 1123 label (what Debian's netcfg/get_hostname and cloud-init's local-hostname expect). */
export const hostLabelSchema = z.string().regex(LABEL_RE, { message: 'host label must be 1-63 letters, digits, inner hyphens' });

/** A DNS domain (custom_domain): same alphabet as a host name, at least one dot is not required. */
export const domainSchema = hostnameSchema;

const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;
const SSH_KEY_RE = /^([a-z0-9@.-]+) ([A-Za-z0-9+/]+={0,2})(?: ([A-Za-z0-9@._+:,=/-]+(?: [A-Za-z0-9@._+:,=/-]+)*))?$/;

/** The key type named inside the base64 blob must equal the prefix (a pasted garbage blob fails here). */
function sshKeyBlobMatches(type: string, b64: string): boolean {
  const blob = Buffer.from(b64, 'base64');
  if (blob.length < 4 + type.length + 4) return false;
  const n = blob.readUInt32BE(0);
  return n === type.length && blob.subarray(4, 4 + n).toString('latin1') === type;
}

/** One OpenSSH public key line: `type base64 [comment]`, comment of safe characters and single spaces. */
export const sshPublicKeySchema = z
  .string()
  .max(16384)
  .refine(
    (s) => {
      const m = SSH_KEY_RE.exec(s);
      return !!m && (SSH_KEY_TYPES as readonly string[]).includes(m[1]) && sshKeyBlobMatches(m[1], m[2]);
    },
    { message: 'ssh key must be "ssh-ed25519|ssh-rsa|ecdsa-sha2-* BASE64 [comment]" on one line' },
  );

/** The `ssh_key` parameter: one or more keys, one per line; blank lines ignored. */
export const sshKeysSchema = z
  .string()
  .max(65536)
  .transform((s) => s.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0))
  .pipe(z.array(sshPublicKeySchema).max(32));

const URL_CHARS_RE = /^[A-Za-z0-9._~:/?=&%@+,[\]-]+$/;
const BOOT_URL_CHARS_RE = /^[A-Za-z0-9._~:/=%@+,[\]-]+$/;

function isHttpUrl(s: string, chars: RegExp): boolean {
  if (s.length > 2048 || !chars.test(s) || /%(?![0-9A-Fa-f]{2})/.test(s)) return false;
  if (!/^https?:\/\/[^/]/i.test(s)) return false;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return false;
  }
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '' && u.hostname !== '';
}

/**
 * An http(s) URL for install configs (post_install_callback and the like): no credentials, no whitespace,
 * quotes, `$`, `;`, `#`, `\`, `{}`, `|`, `<>` or control characters; query strings allowed.
 */
export const urlSchema = z
  .string()
  .refine((s) => isHttpUrl(s, URL_CHARS_RE), { message: 'URL must be http(s), without credentials, spaces, quotes or shell characters' });

/**
 * An http(s) URL that is put on a kernel command line or in an iPXE/GRUB/pxelinux script: as urlSchema,
 * and additionally no `?` or `&` (GRUB and shells treat them specially; rackhand's own URLs never need them).
 */
export const bootUrlSchema = z
  .string()
  .refine((s) => isHttpUrl(s, BOOT_URL_CHARS_RE), { message: 'boot URL must be http(s) with a plain path (no query, spaces, quotes or shell characters)' });

/** MAC address with `:` or `-` separators, any case; parses to lower-case colon form. */
export const macSchema = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}$/, { message: 'MAC must be six hex octets' })
  .transform((s) => s.toLowerCase().replace(/-/g, ':'));

const IPV4_RE = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Dotted-quad IPv4, no leading zeros (which some parsers read as octal). */
export const ipv4Schema = z.string().regex(IPV4_RE, { message: 'IPv4 address expected' });

/** IPv6 address without a zone index. */
export const ipv6Schema = z
  .string()
  .max(45)
  .refine((s) => !s.includes('%') && isIPv6(s), { message: 'IPv6 address expected' });

export const ipAddressSchema = z.union([ipv4Schema, ipv6Schema]);

/** Catalogue key: lower-case slug such as `debian-12`, `ubuntu-24.04` (numeric ids from central control too). */
export const osIdSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { message: 'os_id must be a lower-case slug' });

/** Integer that may arrive as a decimal string from a form-encoded API call. */
function intLike(min: number, max: number) {
  return z
    .union([z.number(), z.string().regex(/^\d{1,10}$/)])
    .transform((v) => Number(v))
    .pipe(z.number().int().min(min).max(max));
}

/** root_size: root partition size in GiB; 0 means "the rest of the disk". */
export const diskSizeSchema = intLike(0, 1024 * 1024);

/** disk_mirror: 0 no mirror, 1 RAID1 across the first two disks, 10 RAID10 across four. */
export const diskMirrorSchema = intLike(0, 10).refine((n) => n === 0 || n === 1 || n === 10, {
  message: 'disk_mirror must be 0, 1 or 10',
});

/** A 0/1 style flag (uefi, no_lvm) as the APIs send it: number, numeric string, yes/no, on/off, boolean. */
export const flagSchema = z
  .union([z.boolean(), z.number(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'boolean') return v;
    const s = String(v).trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
    ctx.addIssue({ code: 'custom', message: 'flag must be 0/1, yes/no, on/off or true/false' });
    return z.NEVER;
  });

/** The single-use installer callback token rackhand issues (URL-safe, unguessable length). */
export const callbackTokenSchema = z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, { message: 'token must be 16-256 URL-safe characters' });

/** One kernel command-line argument as written into a boot script: no spaces, quotes, `$`, `;`, `\` or newlines. */
export const kernelArgSchema = z
  .string()
  .regex(/^[A-Za-z0-9._~:/=%@+,[\]-]{1,1024}$/, { message: 'kernel argument must be one token of safe characters' });

/** A path below the images URL (catalogue kernel/initrd): plain segments, no `..`. */
export const imagePathSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/, { message: 'image path must be plain relative segments' })
  .max(512);

/** The root password as given by central control; it only ever reaches templates hashed. */
export const rootPasswordSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine((s) => !s.includes('\0'), { message: 'password must not contain NUL' });

/** The reinstall action's documented policy (8+ characters, an upper-case letter, a digit, a special character). */
export const strongRootPasswordSchema = rootPasswordSchema.refine(
  (s) => s.length >= 8 && /[A-Z]/.test(s) && /\d/.test(s) && /[^A-Za-z0-9]/.test(s),
  { message: 'password needs 8+ characters with an upper-case letter, a digit and a special character' },
);

/** SHA-512 crypt string as produced by sha512Crypt: `$6$[rounds=N$]salt$hash`. */
export const sha512CryptHashSchema = z
  .string()
  .regex(/^\$6\$(?:rounds=\d{1,9}\$)?[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{86}$/, { message: 'SHA-512 crypt hash expected' });

/** Free-form scripts (post_install_script, cloud_init_script): any text; they reach templates only base64-encoded. */
export const scriptSchema = z
  .string()
  .max(256 * 1024)
  .refine((s) => !s.includes('\0'), { message: 'script must not contain NUL' });

/** operation_clear_hdd modes understood by the wipe image. */
export const wipeModeSchema = z.enum(['quick', 'zero', 'secure']);
