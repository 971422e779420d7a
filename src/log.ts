// The agent's logger: pino JSON lines with secrets, tokens and ticket-like query parameters redacted.
import { pino, type Logger, type DestinationStream } from 'pino';
import { TOKEN_PATH_PREFIXES } from './boot/boot-urls.js';

export type { Logger };

/** Query parameters whose values are credentials or single-use tickets. */
const SECRET_QUERY = /([?&#](?:token|ticket|ses6|password|pass|root_pass|admin_pass|key|install_token|ticketUrl)=)[^&#\s]*/gi;

/** Path segments that are credentials: console session keys, per-install tokens. */
const SECRET_PATH = new RegExp(
  `(${['/console/sessions/', ...TOKEN_PATH_PREFIXES].map((p) => p.replace(/[/]/g, '\\/')).join('|')})[^/?#\\s]+`,
  'g',
);

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]').replace(SECRET_PATH, '$1[redacted]');
}

export const REDACT_PATHS = [
  'password',
  'token',
  'ticket',
  'root_pass',
  'admin_pass',
  'bmcPassword',
  '*.password',
  '*.token',
  '*.ticket',
  '*.root_pass',
  '*.admin_pass',
  '*.bmcPassword',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-xsrf-token"]',
  'res.headers["set-cookie"]',
];

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { svc: 'rackhand' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }) => ({
          method: req.method,
          url: req.url ? redactUrl(req.url) : undefined,
          remote: req.ip ?? req.socket?.remoteAddress,
        }),
        // Every `url` field, not only where a caller remembered redactUrl (api/face.ts logs a failed request's URL).
        url: (url: unknown) => (typeof url === 'string' ? redactUrl(url) : url),
        err: pino.stdSerializers.err,
      },
    },
    opts.destination,
  );
}
