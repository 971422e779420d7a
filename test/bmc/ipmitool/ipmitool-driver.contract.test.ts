// The BmcDriver contract for the ipmitool driver against ipmi_sim.
import { IpmitoolDriver } from '../../../src/bmc/ipmitool/ipmitool-driver.js';
import { describeBmcDriverContract } from '../driver-contract.js';
import { ipmiSimContractFixture } from '../ipmi-sim-contract-fixture.js';

describeBmcDriverContract('ipmitool on ipmi_sim', () => ipmiSimContractFixture(new IpmitoolDriver(), (d) => d.runningProcesses));
