// The logger's redaction (log.ts): credentials in URL paths and query strings, and secret fields and headers in a
// log line's object, never reach the output. The logger writes to an in-memory destination here.
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl, REDACT_PATHS } from '../src/log.js';
import { TOKEN_PATH_PREFIXES } from '../src/boot/boot-urls.js';

const SECRET = 'Zq9-sEcReT_tok3n';

/** Every path prefix whose next segment is a credential. */
const PATH_PREFIXES = [...TOKEN_PATH_PREFIXES, '/console/sessions/'];

/** Every query (or fragment) parameter whose value is a credential. */
const SECRET_PARAMS = ['token', 'ticket', 'ses6', 'password', 'pass', 'root_pass', 'admin_pass', 'key', 'install_token', 'ticketUrl'];

describe('redactUrl: credentials in the path', () => {
  const cases = PATH_PREFIXES.flatMap((prefix) => [
    { url: `${prefix}${SECRET}`, want: `${prefix}[redacted]` },
    { url: `${prefix}${SECRET}/preseed`, want: `${prefix}[redacted]/preseed` },
    { url: `${prefix}${SECRET}?step=2`, want: `${prefix}[redacted]?step=2` },
    { url: `${prefix}${SECRET}#x`, want: `${prefix}[redacted]#x` },
    { url: `http://10.0.0.1:8080${prefix}${SECRET}/a`, want: `http://10.0.0.1:8080${prefix}[redacted]/a` },
  ]);
  it.each(cases)('$url', ({ url, want }) => {
    expect(redactUrl(url)).toBe(want);
  });

  it('redacts each of several tokens in one text', () => {
    const text = `fetched /boot/install/${SECRET}/user-data then /boot/callback/${SECRET}x`;
    expect(redactUrl(text)).toBe('fetched /boot/install/[redacted]/user-data then /boot/callback/[redacted]');
  });
});

describe('redactUrl: credentials in the query and the fragment', () => {
  const cases = SECRET_PARAMS.flatMap((name) => [
    { url: `/api/eq?${name}=${SECRET}`, want: `/api/eq?${name}=[redacted]` },
    { url: `/api/eq?action=reinstall&${name}=${SECRET}&id=7`, want: `/api/eq?action=reinstall&${name}=[redacted]&id=7` },
    { url: `/console/?name=x#${name}=${SECRET}`, want: `/console/?name=x#${name}=[redacted]` },
    { url: `/api/eq?${name.toUpperCase()}=${SECRET}`, want: `/api/eq?${name.toUpperCase()}=[redacted]` },
  ]);
  it.each(cases)('$url', ({ url, want }) => {
    expect(redactUrl(url)).toBe(want);
  });

  it('redacts the console page URL as the console capability builds it', () => {
    const q = new URLSearchParams({ name: 'srv-1', ticketUrl: `/console/sessions/${SECRET}/ticket` });
    const out = redactUrl(`https://rh.example/console/?${q}#ticket=${SECRET}`);
    expect(out).not.toContain(SECRET);
    expect(out).toBe('https://rh.example/console/?name=srv-1&ticketUrl=[redacted]#ticket=[redacted]');
  });

  it('leaves URLs without credentials as they are, and is idempotent', () => {
    for (const url of ['/api/v1/servers/7?limit=5&offset=10', '/boot/ipxe/52:54:00:00:00:01', '/api/eq?action=list&passive=1&keyword=x', '/boot/images/debian/linux']) {
      expect(redactUrl(url)).toBe(url);
    }
    const once = redactUrl(`/boot/agent/${SECRET}/job?token=${SECRET}`);
    expect(redactUrl(once)).toBe(once);
  });
});

/** A logger writing each line into an array. */
function capture() {
  const lines: string[] = [];
  const log = createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } });
  return { log, lines };
}

describe('the logger', () => {
  /** What to log; `kept`: the field stays in the line with [redacted] as its value (the req serializer drops headers). */
  const objects: [what: string, obj: Record<string, unknown>, kept?: false][] = [
    ['password', { password: SECRET }],
    ['token', { token: SECRET }],
    ['ticket', { ticket: SECRET }],
    ['root_pass', { root_pass: SECRET }],
    ['admin_pass', { admin_pass: SECRET }],
    ['bmcPassword', { bmcPassword: SECRET }],
    ['a nested password', { bmc: { host: '10.0.0.1', password: SECRET } }],
    ['a nested token', { caller: { token: SECRET } }],
    ['a nested ticket', { console: { ticket: SECRET } }],
    ['a nested root_pass', { params: { root_pass: SECRET } }],
    ['a nested admin_pass', { params: { admin_pass: SECRET } }],
    ['a nested bmcPassword', { server: { bmcPassword: SECRET } }],
    ['the authorization header', { req: { method: 'GET', url: '/api/v1/servers', headers: { authorization: `Bearer ${SECRET}` } } }, false],
    ['the cookie header', { req: { method: 'GET', url: '/api/dci/v3/server', headers: { cookie: `ses6=${SECRET}` } } }, false],
    ['the x-xsrf-token header', { req: { method: 'GET', url: '/api/dci/v3/server', headers: { 'x-xsrf-token': SECRET } } }, false],
    ['a set-cookie response header', { res: { statusCode: 200, headers: { 'set-cookie': `ses6=${SECRET}; HttpOnly` } } }],
    ['a request URL with a token in the path', { req: { method: 'GET', url: `/boot/install/${SECRET}/preseed` } }],
    ['a request URL with a token in the query', { req: { method: 'POST', url: `/api/eq?action=reinstall&token=${SECRET}` } }],
    ['a URL field (as api/face.ts logs a failed request)', { url: `/api/eq?action=reinstall&root_pass=${SECRET}&token=${SECRET}` }],
    ['an error carrying a password', { err: Object.assign(new Error('boom'), { password: SECRET }) }],
  ];

  it.each(objects)('never writes %s', (_what, obj, kept) => {
    const { log, lines } = capture();
    log.error(obj, 'something happened');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(SECRET);
    if (kept !== false) expect(lines[0]).toContain('[redacted]');
    expect(JSON.parse(lines[0])).toMatchObject({ msg: 'something happened', svc: 'rackhand' });
  });

  it('keeps what is not secret beside what it redacts', () => {
    const { log, lines } = capture();
    log.info({ server: 7, bmc: { host: '10.0.0.1', password: SECRET }, req: { method: 'GET', url: `/boot/callback/${SECRET}?status=ok`, ip: '10.0.0.5' } }, 'x');
    expect(JSON.parse(lines[0])).toMatchObject({
      server: 7,
      bmc: { host: '10.0.0.1', password: '[redacted]' },
      req: { method: 'GET', url: '/boot/callback/[redacted]?status=ok', remote: '10.0.0.5' },
    });
  });

  it('redacts the fields of a child logger too', () => {
    const { log, lines } = capture();
    log.child({ token: SECRET }).warn({ params: { root_pass: SECRET } }, 'child');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(SECRET);
  });

  it('redacts top-level and nested copies of every secret field it names', () => {
    for (const field of ['password', 'token', 'ticket', 'root_pass', 'admin_pass', 'bmcPassword']) {
      expect(REDACT_PATHS).toContain(field);
      expect(REDACT_PATHS).toContain(`*.${field}`);
    }
  });
});
