// Any failure of a `rackhand` command as lines a person can act on: what went wrong and what to do, no stack trace.
import { ConfigError } from '../config.js';
import { RackhandError } from '../errors.js';

/** What the failing operation was about, to name it in the message (the listen address, the file…). */
export interface ErrorContext {
  listen?: string;
}

/** Several problems found at once (an import file's bad rows), each already one line. */
export class ProblemList extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ProblemList';
  }
}

/** One line per problem (a ConfigError has one per problem, everything else one). */
export function oneLineError(e: unknown, ctx: ErrorContext = {}): string[] {
  if (e instanceof ConfigError || e instanceof ProblemList) return e.problems;
  if (e instanceof RackhandError) return [`${e.code}: ${e.message}${adviceFor(e.message)}`];
  const errno = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const system = errno?.code && errno.syscall ? systemError(errno, ctx) : undefined;
  if (system) return [system];
  const message = e instanceof Error ? e.message : String(e);
  return [message.split('\n')[0]];
}

function systemError(e: NodeJS.ErrnoException & { address?: string; port?: number }, ctx: ErrorContext): string | undefined {
  const where = e.address !== undefined ? `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port ?? ''}` : ctx.listen;
  if (e.syscall === 'listen' || e.syscall === 'bind') {
    const what = e.syscall === 'listen' ? 'TCP' : 'UDP';
    switch (e.code) {
      case 'EADDRINUSE':
        return `cannot listen on ${where} (${what}): another program already uses it (ss -lntup | grep :${e.port ?? ''} shows which; another rackhand?): stop it, or set http.listen / RACKHAND_HTTP_LISTEN (boot.* for DHCP and TFTP)`;
      case 'EACCES':
        return `cannot listen on ${where} (${what}): ports below 1024 need CAP_NET_BIND_SERVICE (the systemd unit grants it) or root; or pick a port from 1024 up`;
      case 'EADDRNOTAVAIL':
        return `cannot listen on ${where} (${what}): no interface of this host has that address: use one of its addresses (ip -br addr) or 0.0.0.0`;
    }
  }
  if (e.path) {
    switch (e.code) {
      case 'ENOENT':
        return `${e.path}: no such file or directory`;
      case 'EACCES':
      case 'EPERM':
        return `${e.path}: permission denied for uid ${process.getuid?.()}: run as the user that owns it or fix its mode`;
      case 'EISDIR':
        return `${e.path}: is a directory, expected a file`;
      case 'ENOSPC':
        return `${e.path}: no space left on the device: free some space and try again`;
      case 'EROFS':
        return `${e.path}: read-only file system`;
    }
  }
  return undefined;
}

/** A part that wrapped a socket error keeps its errno in the message; say what to do about the common ones. */
function adviceFor(message: string): string {
  if (/\bEADDRINUSE\b/.test(message)) return ' (another program already uses it; ss -lntup shows which: stop it or change the address in the configuration)';
  if (/\bbind EACCES\b/.test(message)) return ' (ports below 1024 need CAP_NET_BIND_SERVICE, which the systemd unit grants, or root)';
  return '';
}
