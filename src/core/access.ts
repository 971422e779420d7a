// Who may touch which server: the one place role and ownership rules are applied to inventory reads.
import { RackhandError } from '../errors.js';
import { can, type Principal } from '../auth/tokens.js';
import type { ServerRecord } from '../inventory/server-schema.js';

/** A client asking about a server it does not own gets NOT_FOUND: existence is not disclosed. */
export function assertServerVisible(p: Principal, server: ServerRecord | undefined, id: number): ServerRecord {
  if (!server || (!can.seeAllServers(p) && server.ownerId !== p.ownerId)) {
    throw new RackhandError('NOT_FOUND', `server ${id} not found`, { id });
  }
  return server;
}

export function assertAllowed(allowed: boolean, what: string): void {
  if (!allowed) throw new RackhandError('FORBIDDEN', `this token may not ${what}`);
}
