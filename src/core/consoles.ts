// The console capability: novnc / recreate_novnc / stop_novnc sessions, single-use tickets, and the VNC proxy's ticket authority.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { describePrincipal, hashToken, type Principal } from '../auth/tokens.js';
import type { ConsoleRepo, ConsoleSessionRecord } from '../store/repos/console-repo.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import { IpAllowList } from '../console/ip-allow-list.js';
import { generateTicket, hashTicket } from '../console/tickets.js';
import type { ConsoleConnectionRecord, ConsoleGrant, ConsoleTicketAuthority, UpgradeContext } from '../console/vnc-proxy.js';
import { requireVisibleServer } from './access.js';

export interface ConsoleSessionSettings {
  /** A ticket must be redeemed this soon after it is issued. */
  ticketTtlMs: number;
  /** A session (and its reconnect key) lives at most this long. */
  sessionTtlMs: number;
  /** Where the console page is served. */
  basePath: string;
}

export interface OpenedConsole {
  key: string;
  session_id: number;
  url: string;
  expires_at: string;
}

const whiteIpSchema = z
  .string()
  .max(512)
  .transform((s) => s.split(/[\s,]+/).filter(Boolean))
  .pipe(z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: 'white_ip: expected IP addresses or CIDR blocks' })).max(16));

export class Consoles implements ConsoleTicketAuthority {
  private closeLive: (sessionId: string, reason: string) => void = () => {};

  constructor(
    private readonly repo: ConsoleRepo,
    private readonly servers: ServersRepo,
    private readonly settings: ConsoleSessionSettings,
    private readonly publicUrl: () => string,
  ) {}

  /** The proxy's way to close live viewers of a session (set once the proxy exists). */
  onCloseLive(fn: (sessionId: string, reason: string) => void): void {
    this.closeLive = fn;
  }

  open(p: Principal, serverId: number, whiteIp?: string): OpenedConsole {
    const server = requireVisibleServer(p, this.servers.get(serverId), serverId);
    this.servers.consoleTarget(serverId); // CONSOLE_ERROR now, not at connect time, when none is configured
    let allowed: string[] = [];
    if (whiteIp !== undefined && whiteIp.trim() !== '') {
      const r = whiteIpSchema.safeParse(whiteIp);
      if (!r.success) throw new RackhandError('INVALID_INPUT', 'white_ip: expected IP addresses or CIDR blocks', { field: 'white_ip' });
      allowed = r.data;
    }
    const key = randomBytes(24).toString('base64url');
    const expiresAt = new Date(Date.now() + this.settings.sessionTtlMs).toISOString();
    const sessionId = this.repo.createSession({
      keyHash: hashToken(key),
      serverId,
      openedBy: describePrincipal(p),
      whiteIp: allowed.length ? allowed.join(',') : null,
      expiresAt,
    });
    const ticket = this.issueTicket(sessionId);
    const base = this.publicUrl() + this.settings.basePath;
    const q = new URLSearchParams({ name: server.name, ticketUrl: `${this.settings.basePath}/sessions/${key}/ticket` });
    return { key, session_id: sessionId, url: `${base}/?${q}#ticket=${ticket}`, expires_at: expiresAt };
  }

  /** A fresh session and ticket; every earlier session of the server ends and its viewers are closed. */
  recreate(p: Principal, serverId: number): OpenedConsole {
    const previous = this.liveOf(p, serverId);
    this.end(previous, 'recreated');
    return this.open(p, serverId, previous.at(-1)?.whiteIp ?? undefined);
  }

  stop(p: Principal, serverId: number): { stopped: number } {
    const live = this.liveOf(p, serverId);
    this.end(live, 'stopped');
    return { stopped: live.length };
  }

  /** The page's reconnect: the session key (from the page URL) buys a new single-use ticket while the session lives. */
  refreshTicket(key: string, remoteAddress: string): string {
    const s = /^[A-Za-z0-9_-]{16,64}$/.test(key) ? this.repo.liveSessionByKey(hashToken(key)) : undefined;
    if (!s) throw new RackhandError('NOT_FOUND', 'console session ended or unknown');
    if (s.whiteIp && !new IpAllowList(s.whiteIp.split(',')).allows(remoteAddress)) {
      throw new RackhandError('FORBIDDEN', 'this address may not use the console session');
    }
    return this.issueTicket(s.id);
  }

  redeem(ticket: string, _ctx: UpgradeContext): ConsoleGrant | null {
    const s = this.repo.consumeTicket(hashTicket(ticket));
    if (!s) return null;
    const server = this.servers.get(s.serverId);
    const target = this.servers.consoleTarget(s.serverId);
    return {
      sessionId: String(s.id),
      serverId: s.serverId,
      serverName: server?.name,
      target: { host: target.host, port: target.port },
      allowedIps: s.whiteIp ? s.whiteIp.split(',') : undefined,
    };
  }

  recordConnection(rec: ConsoleConnectionRecord): void {
    this.repo.recordConnection(Number(rec.sessionId), { bytesUp: rec.bytesUp, bytesDown: rec.bytesDown, remote: rec.remoteAddress });
  }

  history(p: Principal, serverId: number): ConsoleSessionRecord[] {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    return this.repo.sessionsOfServer(serverId);
  }

  /** End sessions past their lifetime and close their viewers (called periodically). */
  expire(): void {
    for (const id of this.repo.expireSessions()) this.closeLive(String(id), 'session expired');
  }

  private liveOf(p: Principal, serverId: number): ConsoleSessionRecord[] {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    return this.repo.liveSessionsOfServer(serverId);
  }

  private end(sessions: ConsoleSessionRecord[], reason: string): void {
    for (const s of sessions) {
      this.repo.endSession(s.id, reason);
      this.closeLive(String(s.id), `console ${reason}`);
    }
  }

  private issueTicket(sessionId: number): string {
    const ticket = generateTicket();
    this.repo.addTicket(hashTicket(ticket), sessionId, new Date(Date.now() + this.settings.ticketTtlMs).toISOString());
    return ticket;
  }
}
