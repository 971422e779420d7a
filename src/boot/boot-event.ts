// What the boot protocol servers did for a host, reported one exchange at a time through an injected callback (per-host boot history).

/**
 * - dhcp-offer / dhcp-ack / dhcp-nak: a known host's DISCOVER / REQUEST or INFORM / bad REQUEST was answered.
 * - dhcp-ignored: a known host's request got no answer (detail says why: no reserved address, not armed in
 *   proxy mode, another server chosen, …).
 * - dhcp-release / dhcp-decline: what a known host said.
 * - dhcp-discovered: a MAC not in the inventory asked (its first request per interval only, within the
 *   interval's budget of new MACs, so a spoofed-MAC flood stays bounded here too).
 * - tftp-read: a transfer completed. tftp-aborted: the client ended it (firmware's tsize probe does, each boot).
 * - tftp-failed: it timed out, hit maxTransferMs or failed to read. tftp-refused: a request got an error
 *   (detail: the file and the error); refusals beyond the log budget (20 per 10 s) are not reported one by one.
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
  | 'tftp-refused';

export interface BootEvent {
  /** Epoch milliseconds. */
  at: number;
  kind: BootEventKind;
  /** DHCP events carry the client's MAC; TFTP sees only addresses (map `ip` through the reservation). */
  mac?: string;
  /** DHCP: the address offered or in use ('0.0.0.0' when none); TFTP: the client's address. */
  ip: string;
  /** One line for a person: what was asked and what was answered, e.g. `DISCOVER arch 7 → 10.0.0.5, tftp:ipxe.efi`. */
  detail: string;
}

/**
 * Called synchronously from the servers' socket handlers, once per DHCP message from a known host and once
 * per TFTP request or transfer end, never per block. Keep it cheap (queue and write in batches); an
 * exception from it is counted as a handler error and never stops an answer.
 */
export type BootEventSink = (e: BootEvent) => void;
