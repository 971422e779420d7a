// A promise-shaped SNMP v2c / v3 (authPriv, SHA + AES) session over npm net-snmp, with failures sorted into kinds.
import snmp, { type Session, type Varbind } from 'net-snmp';

export interface SnmpCredentials {
  version: 'v2c' | 'v3';
  community?: string;
  /** v3 authPriv: SHA-1 authentication, AES-128 privacy. */
  user?: { name: string; authKey: string; privKey: string };
}

export interface SnmpTarget extends SnmpCredentials {
  host: string;
  port: number;
}

export interface SnmpTiming {
  timeoutMs: number;
  retries: number;
}

/** Why a request failed, as an operator needs to tell it apart. */
export type SnmpFailureKind = 'timeout' | 'auth' | 'no_access' | 'no_such_port' | 'agent_error' | 'socket';

export class SnmpFailure extends Error {
  constructor(
    readonly kind: SnmpFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'SnmpFailure';
  }
}

const NO_SUCH = new Set([snmp.ObjectType.NoSuchObject, snmp.ObjectType.NoSuchInstance, snmp.ObjectType.EndOfMibView]);

/** Sort a net-snmp error: a silent agent (wrong community, wrong v3 privacy key, nobody there) is a timeout. */
export function classify(e: unknown): SnmpFailure {
  if (e instanceof SnmpFailure) return e;
  const err = e as Error & { status?: number; code?: number };
  if (err instanceof snmp.RequestTimedOutError || err?.name === 'RequestTimedOutError') {
    return new SnmpFailure('timeout', 'no answer (timeout): switch unreachable, or wrong community / v3 privacy key');
  }
  if (err?.name === 'RequestFailedError') {
    const status = snmp.ErrorStatus[err.status as number] ?? `status ${err.status}`;
    if (status === 'NoCreation' || status === 'NoSuchName' || status === 'InconsistentName') return new SnmpFailure('no_such_port', `agent answered ${status}: no such port`);
    if (status === 'NoAccess' || status === 'NotWritable' || status === 'ReadOnly' || status === 'AuthorizationError') {
      return new SnmpFailure('no_access', `agent answered ${status}: the credentials may not write`);
    }
    return new SnmpFailure('agent_error', `agent answered ${status}`);
  }
  if (err?.name === 'ResponseInvalidError') {
    return new SnmpFailure(/digest|auth|user/i.test(err.message) ? 'auth' : 'agent_error', `invalid response: ${err.message}`);
  }
  return new SnmpFailure('socket', err?.message ?? String(e));
}

export class SnmpSession {
  private constructor(private readonly s: Session) {
    // A socket error must not become an unhandled 'error' event; pending requests fail on their own.
    s.on('error', () => {});
  }

  static open(t: SnmpTarget, timing: SnmpTiming): SnmpSession {
    const host = t.host.replace(/^\[(.*)\]$/, '$1');
    const options = { port: t.port, retries: timing.retries, timeout: timing.timeoutMs, transport: host.includes(':') ? ('udp6' as const) : ('udp4' as const) };
    if (t.version === 'v3') {
      if (!t.user) throw new SnmpFailure('auth', 'no SNMPv3 user configured');
      return new SnmpSession(
        snmp.createV3Session(
          host,
          {
            name: t.user.name,
            level: snmp.SecurityLevel.authPriv,
            authProtocol: snmp.AuthProtocols.sha,
            authKey: t.user.authKey,
            privProtocol: snmp.PrivProtocols.aes,
            privKey: t.user.privKey,
          },
          { ...options, version: snmp.Version3 },
        ),
      );
    }
    if (t.community === undefined) throw new SnmpFailure('auth', 'no SNMP community configured');
    return new SnmpSession(snmp.createSession(host, t.community, { ...options, version: snmp.Version2c }));
  }

  /** Integers of the given OIDs; a missing instance is a no_such_port failure naming the OID. */
  async getInts(oids: string[]): Promise<number[]> {
    const vbs = await new Promise<Varbind[]>((resolve, reject) => this.s.get(oids, (e, v) => (e ? reject(classify(e)) : resolve(v))));
    return vbs.map((vb, i) => {
      if (snmp.isVarbindError(vb) || NO_SUCH.has(vb.type)) throw new SnmpFailure('no_such_port', `${oids[i]}: ${snmp.varbindError(vb)}`);
      if (typeof vb.value !== 'number') throw new SnmpFailure('agent_error', `${oids[i]}: expected an integer`);
      return vb.value;
    });
  }

  async setInt(oid: string, value: number): Promise<void> {
    const vbs = await new Promise<Varbind[]>((resolve, reject) =>
      this.s.set([{ oid, type: snmp.ObjectType.Integer, value }], (e, v) => (e ? reject(classify(e)) : resolve(v))),
    );
    const vb = vbs[0];
    if (vb && (snmp.isVarbindError(vb) || NO_SUCH.has(vb.type))) throw new SnmpFailure('no_such_port', `${oid}: ${snmp.varbindError(vb)}`);
  }

  /** Every (index, text) under a table column, e.g. ifName. */
  async walkStrings(column: string): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    await new Promise<void>((resolve, reject) =>
      this.s.subtree(
        column,
        20,
        (vbs) => {
          for (const vb of vbs) {
            if (snmp.isVarbindError(vb)) continue;
            const index = Number(vb.oid.slice(column.length + 1));
            if (Number.isInteger(index)) out.set(index, Buffer.isBuffer(vb.value) ? vb.value.toString('utf8') : String(vb.value));
          }
        },
        (e) => (e ? reject(classify(e)) : resolve()),
      ),
    );
    return out;
  }

  close(): void {
    try {
      this.s.close();
    } catch {
      /* already closed */
    }
  }
}
