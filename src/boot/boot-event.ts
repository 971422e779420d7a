// What the boot plane did for a host, reported one exchange at a time through an injected sink: its boot history.

/**
 * DHCP (from a known host): offer, ack, nak, ignored (the detail says why: no reserved address, not armed in proxy
 * mode, another server chosen…), release, decline; discovered: a MAC not in the inventory asked (its first request
 * per interval only, within the interval's budget of new MACs, so a spoofed-MAC flood stays bounded here too).
 * TFTP: read (a transfer completed), aborted (the client ended it, as firmware's size probe does each boot), failed
 * (timed out, hit maxTransferMs or failed to read), refused (detail: the file and the error; refusals beyond the log
 * budget are not reported one by one).
 * HTTP boot: the host's script served (armed, or the local-disk one and why) or refused, an install config fetched
 * or refused, the installer's report (ok or failed) or a report refused, the host's boot ISO fetched (by its BMC,
 * for virtual media) or refused.
 */
export type BootEventKind =
  | 'dhcp-offer'
  | 'dhcp-ack'
  | 'dhcp-nak'
  | 'dhcp-ignored'
  | 'dhcp-release'
  | 'dhcp-decline'
  | 'dhcp-discovered'
  | 'tftp-read'
  | 'tftp-aborted'
  | 'tftp-failed'
  | 'tftp-refused'
  | 'http-script'
  | 'http-script-refused'
  | 'http-config'
  | 'http-config-refused'
  | 'installer-report'
  | 'installer-report-refused'
  | 'http-iso'
  | 'http-iso-refused';

export interface BootEvent {
  /** Epoch milliseconds. */
  at: number;
  kind: BootEventKind;
  /** The host's MAC when the protocol carries it (DHCP, the script's URL); TFTP sees only addresses. */
  mac?: string;
  /** The client's address (DHCP: the address offered or in use, 0.0.0.0 when none). */
  ip: string;
  /** One line for a person: what was asked and what was answered. Never a token or a password. */
  detail: string;
  /** The server, when the reporter knows it (HTTP boot); otherwise found by MAC, then by address. */
  serverId?: number;
}

/**
 * Called synchronously from the boot servers' handlers, once per exchange (never per TFTP block). It only queues:
 * the history is written in batches. An exception from it is counted as a handler error and never stops an answer.
 */
export type BootEventSink = (e: BootEvent) => void;
