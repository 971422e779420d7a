// The websocket close codes the console proxy sends, and the one-line meaning the console page shows for each.

/**
 * Application close codes (4000–4999 are free for applications, RFC 6455 §7.4.2). The hundreds mirror HTTP
 * so operators can guess them: 44xx = refused before the console started, 45xx = the VNC side failed.
 * Standard codes the proxy also uses: 1000 normal, 1003 text frame (only binary is spoken), 1008 policy
 * (data before the VNC handshake beyond the limit), 1009 frame larger than maxPayload, 1002 protocol error.
 */
export const CONSOLE_CLOSE = {
  /** stop_novnc / recreate_novnc (or closeSession) ended the session. */
  SESSION_STOPPED: 4000,
  /** No bytes either way for idleTimeoutMs. */
  IDLE_TIMEOUT: 4001,
  /** The VNC server closed its TCP connection (or it broke) after the handshake. */
  UPSTREAM_CLOSED: 4002,
  /** rackhand is shutting down. */
  PROXY_SHUTDOWN: 4003,
  /** The browser stopped answering websocket pings. */
  CLIENT_UNRESPONSIVE: 4004,
  /** Ticket missing, unknown, expired or already used. */
  TICKET_REFUSED: 4401,
  /** The client address is outside the session's white_ip list. */
  ADDRESS_NOT_ALLOWED: 4403,
  /** Too many console connections for this server or in total. */
  TOO_MANY_SESSIONS: 4429,
  /** A rackhand-side failure (e.g. the ticket authority threw or timed out). */
  INTERNAL: 4500,
  /** The VNC server refused or reset the TCP connection. */
  UPSTREAM_UNREACHABLE: 4502,
  /** The VNC server did not accept the connection, or sent no `RFB 003.00x` banner, in time (frozen?). */
  UPSTREAM_TIMEOUT: 4504,
  /** The peer answered but is not a VNC server (no RFB banner). */
  UPSTREAM_PROTOCOL: 4505,
} as const;

export type ConsoleCloseCode = (typeof CONSOLE_CLOSE)[keyof typeof CONSOLE_CLOSE];
