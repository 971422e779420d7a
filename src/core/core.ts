// The capabilities every face calls: one object, built by the agent, handed to each face's table.
import type { Consoles } from './consoles.js';
import type { Deploys } from './deploys.js';
import type { Discovered } from './discovered.js';
import type { SensorHistory } from './history.js';
import type { Images } from './images.js';
import type { Ipam } from './ipam.js';
import type { Netboot } from './netboot.js';
import type { Power } from './power.js';
import type { ServerViews } from './server-views.js';
import type { Servers } from './servers.js';
import type { SwitchPorts } from './switch-ports.js';
import type { Tasks } from './tasks.js';
import type { Tokens } from './tokens.js';
import type { Audit } from './audit.js';
import type { BootHistory } from './boot-history.js';
import type { BmcTrust } from './bmc-trust.js';
import type { EventLogs } from './event-logs.js';

export interface Core {
  servers: Servers;
  /** Servers as central sees them: addresses, the install in progress, the owner (eq and DCImanager). */
  views: ServerViews;
  power: Power;
  deploys: Deploys;
  netboot: Netboot;
  discovered: Discovered;
  consoles: Consoles;
  ipam: Ipam;
  switchPorts: SwitchPorts;
  history: SensorHistory;
  tasks: Tasks;
  tokens: Tokens;
  images: Images;
  audit: Audit;
  bootHistory: BootHistory;
  bmcTrust: BmcTrust;
  eventLogs: EventLogs;
}
