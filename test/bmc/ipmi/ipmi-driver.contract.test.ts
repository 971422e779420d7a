// The BmcDriver contract for the native RMCP+ driver against ipmi_sim.
import { IpmiDriver } from '../../../src/bmc/ipmi/ipmi-driver.js';
import { describeBmcDriverContract } from '../driver-contract.js';
import { ipmiSimContractFixture } from '../ipmi-sim-contract-fixture.js';

describeBmcDriverContract('ipmi (native RMCP+) on ipmi_sim', () => ipmiSimContractFixture(new IpmiDriver({ timeoutMs: 200, retries: 3 }), (d) => d.stats().exchangesInFlight));
