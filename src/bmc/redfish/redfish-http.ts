// HTTP(S) to Redfish BMCs: a keep-alive agent per BMC, a short connect timeout apart from the request timeout, the
// TLS certificate checked against the one pinned for that BMC (trust on first use) or a site CA before a byte of a
// request is sent, JSON answers, and every failure as a RackhandError.
import { Agent, request as httpRequest, type ClientRequestArgs, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { RackhandError } from '../../errors.js';
import { VERSION } from '../../version.js';
import type { CertificatePins } from './certificate-pins.js';

export interface RedfishEndpoint {
  scheme: 'https' | 'http';
  host: string;
  port: number;
  /** Old BMC firmware (TLS 1.0/1.1, 1024-bit keys, SHA-1): accepted only when the inventory says so for this BMC. */
  legacyTls?: boolean;
}

/** How a BMC's certificate is trusted: the one it showed first (pinned), or a site CA that signed it. */
export type RedfishTrust = { mode: 'pin'; pins: CertificatePins } | { mode: 'ca'; ca: string | Buffer; checkHostname?: boolean };

export interface RedfishHttpOptions {
  trust: RedfishTrust;
  /** TCP connect plus TLS handshake; past it the BMC is unreachable. Short, so a dead BMC frees its worker fast. */
  connectTimeoutMs: number;
  /** One request, from sending to the last byte of the answer. */
  requestTimeoutMs: number;
  /** Keep-alive connections idle this long are closed. */
  idleSocketMs: number;
  maxBodyBytes: number;
}

export const DEFAULT_REDFISH_HTTP_OPTIONS = { connectTimeoutMs: 3_000, requestTimeoutMs: 20_000, idleSocketMs: 30_000, maxBodyBytes: 8 << 20 } as const;

export interface RedfishRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  signal?: AbortSignal;
}

export interface RedfishResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
}

/** "host:port": the key of a BMC's certificate pin. */
export const endpointName = (e: RedfishEndpoint): string => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;

/** Why no connection came up; turned into a RackhandError by the request that wanted it. */
class ConnectFailure extends Error {
  constructor(
    readonly kind: 'refused' | 'timeout' | 'network' | 'tls' | 'changed' | 'untrusted',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE',
]);

/** An http.Agent whose connections are made, timed and vetted here; keep-alive across calls to one BMC. */
class BmcAgent extends Agent {
  constructor(
    private readonly ep: RedfishEndpoint,
    private readonly opts: RedfishHttpOptions,
  ) {
    super({ keepAlive: true, maxSockets: 4, maxFreeSockets: 2, scheduling: 'lifo' });
  }

  override createConnection(options: ClientRequestArgs, cb?: (err: Error | null, s: Duplex) => void): undefined {
    const { ep, opts } = this;
    const name = endpointName(ep);
    // The request this connection is made for was cancelled: stop connecting too, not only waiting for it.
    const cancel = (options as { connectSignal?: AbortSignal }).connectSignal;
    let done = false;
    let sock: Socket | TLSSocket;
    const onCancel = () => finish(new ConnectFailure('timeout', `connection to BMC ${name} cancelled`));
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
      if (err) {
        sock.destroy();
        cb!(err, sock);
        return;
      }
      sock.setTimeout(opts.idleSocketMs); // the agent destroys a free socket on 'timeout'
      cb!(null, sock);
    };
    const timer = setTimeout(() => {
      finish(new ConnectFailure('timeout', `BMC ${name} did not accept a ${ep.scheme.toUpperCase()} connection within ${opts.connectTimeoutMs} ms`));
    }, opts.connectTimeoutMs);
    const onError = (e: NodeJS.ErrnoException) => {
      if (e instanceof ConnectFailure) return finish(e);
      const code = e.code ?? '';
      if (code === 'ECONNREFUSED') return finish(new ConnectFailure('refused', `BMC ${name} refused the connection (nothing listens on port ${ep.port})`));
      if (UNTRUSTED_CODES.has(code)) {
        return finish(new ConnectFailure('untrusted', `BMC ${name}: its TLS certificate is not trusted by the site CA (${code}); check the CA or the BMC's certificate`, { reason: 'certificate-untrusted', tlsError: code }));
      }
      if (/^ERR_SSL|^EPROTO$|^ERR_TLS/.test(code) || /SSL|TLS/.test(e.message)) {
        const hint = ep.legacyTls ? '' : '; if this is old BMC firmware that speaks only TLS 1.0/1.1 or weak keys, mark its BMC for legacy TLS';
        return finish(new ConnectFailure('tls', `BMC ${name}: TLS handshake failed (${tlsReason(e)})${hint}`));
      }
      finish(new ConnectFailure('network', `BMC ${name} is not reachable (${code || e.message})`));
    };
    if (ep.scheme === 'http') {
      sock = netConnect({ host: ep.host, port: ep.port });
      sock.once('connect', () => finish(null));
    } else {
      const ca = opts.trust.mode === 'ca';
      const s = tlsConnect({
        host: ep.host,
        port: ep.port,
        ...(isIP(ep.host) ? {} : { servername: ep.host }),
        ...(ep.legacyTls ? { minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' } : { minVersion: 'TLSv1.2' }),
        // Pinning checks the certificate itself below; a site CA checks the chain (and the name, unless told not to).
        rejectUnauthorized: ca,
        ...(opts.trust.mode === 'ca' ? { ca: opts.trust.ca, ...(opts.trust.checkHostname === false ? { checkServerIdentity: () => undefined } : {}) } : {}),
      });
      sock = s;
      s.once('secureConnect', () => {
        if (opts.trust.mode === 'pin') {
          const failure = checkPin(s, name, opts.trust.pins);
          if (failure) return finish(failure);
        }
        finish(null);
      });
    }
    sock.on('error', onError);
    if (cancel?.aborted) onCancel();
    else cancel?.addEventListener('abort', onCancel, { once: true });
    return undefined;
  }
}

/** Trust on first use: the first certificate is recorded; any other one later is refused with both fingerprints. */
function checkPin(s: TLSSocket, name: string, pins: CertificatePins): ConnectFailure | undefined {
  const cert = s.getPeerCertificate();
  if (!cert || !cert.fingerprint256) return new ConnectFailure('tls', `BMC ${name} presented no TLS certificate`);
  const seen = cert.fingerprint256;
  const pin = pins.get(name);
  if (!pin) {
    pins.record(name, { fingerprint256: seen, subject: subjectOf(cert.subject), validTo: cert.valid_to, pinnedAt: new Date().toISOString() });
    return undefined;
  }
  if (pin.fingerprint256 === seen) return undefined;
  const accept = pins.acceptHint?.(name) ?? "forget this BMC's certificate pin";
  return new ConnectFailure(
    'changed',
    `BMC ${name} presented a different TLS certificate (SHA-256 ${seen}) from the one pinned on ${pin.pinnedAt.slice(0, 10)} ` +
      `(SHA-256 ${pin.fingerprint256}, ${pin.subject}); refused. If it was replaced on purpose, accept the new one with: ${accept}`,
    { reason: 'certificate-changed', pinned: pin.fingerprint256, presented: seen },
  );
}

function subjectOf(subject: object | undefined): string {
  if (!subject) return '';
  return Object.entries(subject)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}

export class RedfishHttp {
  private readonly opts: RedfishHttpOptions;
  private readonly agents = new Map<string, BmcAgent>();
  private active = 0;

  constructor(opts: Partial<RedfishHttpOptions> & { trust: RedfishTrust }) {
    this.opts = { ...DEFAULT_REDFISH_HTTP_OPTIONS, ...opts };
  }

  async request(ep: RedfishEndpoint, r: RedfishRequest): Promise<RedfishResponse> {
    try {
      return await this.once(ep, r);
    } catch (e) {
      // A keep-alive connection the BMC closed while the request went out: the request never reached it; once more
      // on a fresh connection.
      if (e instanceof StaleSocket) return this.once(ep, r);
      throw e;
    }
  }

  /** Requests sent or being connected that have not ended yet. */
  get inFlight(): number {
    return this.active;
  }

  /** Close idle keep-alive connections to one BMC (its sessions are gone, or it is being forgotten). */
  forget(ep: RedfishEndpoint): void {
    const key = agentKey(ep);
    this.agents.get(key)?.destroy();
    this.agents.delete(key);
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  private agent(ep: RedfishEndpoint): BmcAgent {
    const key = agentKey(ep);
    let a = this.agents.get(key);
    if (!a) {
      a = new BmcAgent(ep, this.opts);
      this.agents.set(key, a);
    }
    return a;
  }

  private once(ep: RedfishEndpoint, r: RedfishRequest): Promise<RedfishResponse> {
    const name = endpointName(ep);
    const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
    if (r.signal?.aborted) return Promise.reject(r.signal.reason);
    this.active++;
    return new Promise<RedfishResponse>((resolve, reject) => {
      let settled = false;
      const settle = (err: unknown, res?: RedfishResponse) => {
        if (settled) return;
        settled = true;
        this.active--;
        clearTimeout(timer);
        r.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(res!);
      };
      const req = httpRequest({
        host: ep.host,
        port: ep.port,
        method: r.method,
        path: r.path,
        agent: this.agent(ep),
        ...(r.signal ? { connectSignal: r.signal } : {}),
        headers: {
          Accept: 'application/json',
          'OData-Version': '4.0',
          'User-Agent': `rackhand/${VERSION}`,
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
          ...r.headers,
        },
      });
      const onAbort = () => {
        req.destroy();
        settle(r.signal!.reason);
      };
      r.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        req.destroy();
        settle(new RackhandError('BMC_TIMEOUT', `BMC ${name} did not answer ${r.method} ${r.path} within ${this.opts.requestTimeoutMs} ms`, { bmc: name, phase: 'request' }));
      }, this.opts.requestTimeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e instanceof ConnectFailure) return settle(connectError(e, name));
        if (req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return settle(new StaleSocket());
        settle(new RackhandError('BMC_UNREACHABLE', `BMC ${name} dropped the connection during ${r.method} ${r.path} (${e.code ?? e.message})`, { bmc: name, phase: 'request' }));
      });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.opts.maxBodyBytes) {
            req.destroy();
            settle(new RackhandError('BMC_ERROR', `BMC ${name} answered ${r.method} ${r.path} with more than ${this.opts.maxBodyBytes} bytes`, { bmc: name }));
            return;
          }
          chunks.push(c);
        });
        res.on('error', () => settle(new RackhandError('BMC_UNREACHABLE', `BMC ${name} dropped the connection while answering ${r.method} ${r.path}`, { bmc: name, phase: 'request' })));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          if (text.trim() !== '') {
            try {
              body = JSON.parse(text);
            } catch {
              // A 2xx answer must be JSON; an error page in HTML still carries its status.
              if (res.statusCode! < 300) {
                return settle(new RackhandError('BMC_ERROR', `BMC ${name} answered ${r.method} ${r.path} with something that is not JSON`, { bmc: name, status: res.statusCode }));
              }
            }
          }
          settle(undefined, { status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      req.end(payload);
    });
  }
}

class StaleSocket extends Error {}

function agentKey(ep: RedfishEndpoint): string {
  return `${ep.scheme}://${endpointName(ep)}${ep.legacyTls ? '#legacy' : ''}`;
}

/** OpenSSL's reason without its file and line noise: "tlsv1 alert protocol version". */
function tlsReason(e: NodeJS.ErrnoException): string {
  return /:([a-z0-9 ._-]+):[^:]*\.c:\d+/i.exec(e.message)?.[1] ?? (e.code || e.message);
}

function connectError(e: ConnectFailure, name: string): RackhandError {
  const details = { bmc: name, phase: 'connect', ...e.details };
  if (e.kind === 'changed' || e.kind === 'untrusted') return new RackhandError('BMC_AUTH_FAILED', e.message, details);
  return new RackhandError('BMC_UNREACHABLE', e.message, details);
}
