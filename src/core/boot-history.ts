// The per-host boot history: the boot plane's events (DHCP, TFTP, HTTP boot, installer reports) queued by a cheap
// sink, written in batches with each host's server found by MAC or address, bounded per host, in all and by age;
// read per server (what it did under its MACs and addresses too) and per discovered MAC.
import type { Logger } from '../log.js';
import type { Principal } from '../auth/tokens.js';
import type { BootEvent, BootEventSink } from '../boot/boot-event.js';
import type { BootLookup } from '../boot/boot-lookup.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { BootHistoryRecord, BootHistoryRepo, StoredBootEvent } from '../store/repos/boot-history-repo.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';

export interface BootHistorySettings {
  perHost: number;
  maxEvents: number;
  retentionDays: number;
}

/** Events waiting to be written at most; beyond it (a flood) they are counted as dropped, not kept in memory. */
const MAX_QUEUED = 20_000;
/** A batch is written this long after its first event: one transaction for a burst of DHCP and TFTP. */
const FLUSH_AFTER_MS = 250;
const DETAIL_MAX = 500;

export class BootHistory {
  private queue: BootEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Events a flood pushed past the queue's bound. */
  dropped = 0;

  constructor(
    private readonly repo: BootHistoryRepo,
    private readonly servers: ServersRepo,
    /** Finds the host behind a MAC or an address, as DHCP does (the reservation included). */
    private readonly lookup: () => Pick<BootLookup, 'findByMac' | 'findByIp'>,
    private readonly settings: BootHistorySettings,
    private readonly log: Logger,
  ) {}

  /** What the boot servers call: queues the event, never throws, never touches the store. */
  readonly sink: BootEventSink = (e) => {
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.push(e);
    this.timer ??= setTimeout(() => this.flush(), FLUSH_AFTER_MS).unref();
  };

  /** Writes what is queued (each event's server found by MAC, then by address). Returns how many were written. */
  flush(): number {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return 0;
    try {
      const hosts = new Map<string, { serverId: number; mac: string } | undefined>();
      const find = (key: string, fn: () => { serverId: number; mac: string } | undefined) => {
        if (!hosts.has(key)) hosts.set(key, fn());
        return hosts.get(key);
      };
      const rows = batch.map((e): StoredBootEvent => {
        const known =
          e.serverId === undefined
            ? e.mac
              ? find(`mac:${e.mac}`, () => this.lookup().findByMac(e.mac!))
              : e.ip && e.ip !== '0.0.0.0'
                ? find(`ip:${e.ip}`, () => this.lookup().findByIp(e.ip))
                : undefined
            : undefined;
        const serverId = e.serverId ?? known?.serverId ?? null;
        const mac = e.mac ?? known?.mac ?? null;
        return {
          at: e.at,
          host: serverId !== null ? `server:${serverId}` : mac ? `mac:${mac}` : `ip:${e.ip}`,
          serverId,
          mac,
          ip: e.ip,
          kind: e.kind,
          detail: e.detail.length > DETAIL_MAX ? `${e.detail.slice(0, DETAIL_MAX)}…` : e.detail,
        };
      });
      this.repo.append(rows, this.settings);
      return rows.length;
    } catch (err) {
      // The history is for people; a failure to write it must not reach a boot server.
      this.log.error({ err, events: batch.length }, 'boot history: could not write a batch');
      return 0;
    }
  }

  prune(now = Date.now()): number {
    return this.repo.pruneBefore(now - this.settings.retentionDays * 86400_000);
  }

  /** A server's boot history, newest first: under its id, its MACs (also from before it was adopted) and its addresses. */
  forServer(p: Principal, serverId: number, page: { limit: number; offset: number }): { list: BootHistoryRecord[]; total: number } {
    const server = requireVisibleServer(p, this.servers.get(serverId), serverId);
    this.flush();
    const macs = server.interfaces.map((i) => i.mac);
    const addresses = new Set(server.interfaces.flatMap((i) => (i.ip ? [i.ip] : [])));
    for (const mac of macs) {
      const ip = this.lookup().findByMac(mac)?.ip;
      if (ip) addresses.add(ip);
    }
    return this.repo.forServer(serverId, macs, [...addresses], page);
  }

  /** What a MAC did, known or not (a discovered host's attempts). */
  forMac(p: Principal, mac: string, page: { limit: number; offset: number }): { list: BootHistoryRecord[]; total: number } {
    requireAllowed(can.seeAllServers(p), 'see the boot history of hosts outside the inventory');
    this.flush();
    return this.repo.forMac(mac, page);
  }

  /** At stop: what is queued is written. */
  close(): void {
    this.flush();
  }
}
