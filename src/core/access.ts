// Who may do what: the role rules and the server-visibility rule, applied in this one place by every capability.
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';

/** What each role may do. Clients are confined to the servers their user owns. */
export const can = {
  manageTokens: (p: Principal) => p.role === 'admin',
  /** Who did what: admins only (it names every token and where it called from). */
  readAudit: (p: Principal) => p.role === 'admin',
  manageUsers: (p: Principal) => p.role === 'admin' || p.role === 'central',
  /** Write inventory (servers, BMC credentials): secrets flow in here, so techs and clients may not. */
  manageInventory: (p: Principal) => p.role === 'admin' || p.role === 'central',
  seeAllServers: (p: Principal) => p.role !== 'client',
  /** Techs adopt discovered hosts at the rack, but may not set BMC or console secrets. */
  adoptDiscovered: (p: Principal) => p.role !== 'client',
  /** Trust a Redfish BMC's replaced TLS certificate: a wrong yes hands the BMC password to whoever answers there. */
  acceptBmcCertificates: (p: Principal) => p.role === 'admin',
  /** Erase a BMC's event log (what happened to the hardware): the people who look after it. */
  clearEventLog: (p: Principal) => p.role === 'admin' || p.role === 'tech',
  /** BMC accounts with the administrator privilege (which can change rackhand's own BMC login). */
  grantBmcAdministrator: (p: Principal) => p.role === 'admin' || p.role === 'central',
};

/** The owner field of a server, all the visibility rule needs. */
export interface Owned {
  ownerId: number | null;
}

export function canSeeServer(p: Principal, server: Owned | undefined): boolean {
  return !!server && (can.seeAllServers(p) || (p.ownerId !== null && server.ownerId === p.ownerId));
}

/** The server, if this caller may see it; otherwise NOT_FOUND (a client is not told that a server exists). */
export function requireVisibleServer<S extends Owned>(p: Principal, server: S | undefined, id: number): S {
  if (!canSeeServer(p, server)) throw new RackhandError('NOT_FOUND', `server ${id} not found`, { id });
  return server!;
}

export function requireAllowed(allowed: boolean, what: string): void {
  if (!allowed) throw new RackhandError('FORBIDDEN', `this token may not ${what}`);
}
