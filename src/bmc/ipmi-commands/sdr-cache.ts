// Each BMC's SDR, kept between sensor reads. Walking it costs two to four exchanges per record (hundreds on a real
// BMC, seconds each time), while a sensor read needs only the readings: the records are read again when the BMC's
// repository stamp (Get SDR Repository Info) changes, and at least every maxAgeMs for firmware that never changes it.

/** One BMC's place in the cache, as an operation sees it. */
export interface SdrCacheSlot {
  /** The SDR (records back to back) stored under this stamp, if it is still fresh. */
  get(stamp: string): Buffer | undefined;
  set(stamp: string, sdr: Buffer): void;
}

export interface SdrCacheOptions {
  /** Bytes kept in all; the oldest stored go first (a real BMC's SDR is 3-10 KiB: 64 MiB holds ~10,000). */
  maxBytes: number;
  maxAgeMs: number;
  now(): number;
}

export class SdrCache {
  private readonly opts: SdrCacheOptions;
  /** By BMC, in the order stored (a Map iterates in insertion order: the first is the oldest). */
  private readonly entries = new Map<string, { stamp: string; sdr: Buffer; at: number }>();
  private bytes = 0;

  constructor(opts: Partial<SdrCacheOptions> = {}) {
    this.opts = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 3600_000, now: Date.now, ...opts };
  }

  /** `bmc`: host:port, so every user of one BMC shares its records. */
  slot(bmc: string): SdrCacheSlot {
    return {
      get: (stamp) => {
        const e = this.entries.get(bmc);
        return e && e.stamp === stamp && this.opts.now() - e.at < this.opts.maxAgeMs ? e.sdr : undefined;
      },
      set: (stamp, sdr) => {
        this.drop(bmc);
        this.entries.set(bmc, { stamp, sdr, at: this.opts.now() });
        this.bytes += sdr.length;
        for (const oldest of this.entries.keys()) {
          if (this.bytes <= this.opts.maxBytes) break;
          this.drop(oldest);
        }
      },
    };
  }

  get size(): { bmcs: number; bytes: number } {
    return { bmcs: this.entries.size, bytes: this.bytes };
  }

  private drop(bmc: string): void {
    const e = this.entries.get(bmc);
    if (!e) return;
    this.bytes -= e.sdr.length;
    this.entries.delete(bmc);
  }
}
