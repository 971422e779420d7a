// Unknown MACs asking to boot, summed per interval: first sighting recorded at once, repeats added later, floods capped, one log line.

import type { DiscoveredClient } from '../boot-lookup.js';

export interface DiscoveredSightingsOptions {
  /** Where a record goes (BootLookup.recordDiscovered). */
  record(client: DiscoveredClient): void;
  /** New MACs recorded per interval; more are counted and dropped (spoofed-MAC floods). */
  maxNewPerInterval: number;
  /** The summary line; called once per interval that saw any unknown MAC. */
  summary(s: DiscoveredSummary): void;
}

export interface DiscoveredSummary {
  macs: number; // distinct unknown MACs recorded this interval
  requests: number; // their requests, repeats included
  dropped: number; // requests from new MACs beyond the interval's budget: not recorded
  sample: string[]; // a few of the MACs, for the log
}

const SAMPLE = 5;

/**
 * The DHCP server notes every request from an unknown MAC here. A MAC's first request in an
 * interval is recorded at once (a technician sees a new host immediately); its repeats only bump a
 * count, written once at the end of the interval; past `maxNewPerInterval` new MACs, requests are
 * dropped. Memory and database writes per interval are bounded by the budget, whatever the traffic.
 */
export class DiscoveredSightings {
  private current = new Map<string, { client: DiscoveredClient; repeats: number }>();
  private requests = 0;
  private dropped = 0;

  constructor(private readonly o: DiscoveredSightingsOptions) {}

  note(client: DiscoveredClient): 'recorded' | 'repeat' | 'dropped' {
    const seen = this.current.get(client.mac);
    if (seen) {
      this.requests += 1;
      seen.repeats += 1;
      seen.client = client;
      return 'repeat';
    }
    if (this.current.size >= this.o.maxNewPerInterval) {
      this.dropped += 1;
      return 'dropped';
    }
    this.requests += 1;
    this.current.set(client.mac, { client, repeats: 0 });
    this.o.record(client);
    return 'recorded';
  }

  /** Ends the interval: writes the repeats, reports the summary, starts afresh. */
  flush(): void {
    const entries = [...this.current.values()];
    const summary: DiscoveredSummary = {
      macs: entries.length,
      requests: this.requests,
      dropped: this.dropped,
      sample: entries.slice(0, SAMPLE).map((e) => e.client.mac),
    };
    this.current = new Map();
    this.requests = 0;
    this.dropped = 0;
    for (const e of entries) if (e.repeats > 0) this.o.record({ ...e.client, seen: e.repeats });
    if (summary.macs > 0 || summary.dropped > 0) this.o.summary(summary);
  }
}
