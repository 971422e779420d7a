// The BmcDriver contract for the in-process simulated driver.
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { SimulatedDriver } from '../../../src/bmc/simulated/simulated-driver.js';
import { describeBmcDriverContract } from '../driver-contract.js';

describeBmcDriverContract('simulated', async () => {
  const driver = new SimulatedDriver({ delayMs: 1 });
  const at = (host: string): BmcTarget => ({ host, port: 623, username: 'admin', password: 'sim-pw', cipherSuite: 3, privilege: 'administrator' });
  const target = at('sim-main');
  driver.injectFault('sim-down:623', { kind: 'unreachable' });
  driver.state(at('sim-no-dcmi')).measuresPower = false;
  return {
    driver,
    target,
    unreachable: at('sim-down'),
    async hang() {
      driver.injectFault('sim-hung:623', { kind: 'hang' });
      return { target: at('sim-hung'), release: async () => driver.clearFaults('sim-hung:623') };
    },
    inFlight: () => driver.hangingCalls,
    async addEvent(t) {
      driver.addEvent(t, { severity: 'critical', message: 'temperature sensor 1: upper critical going high (asserted)' });
      return { severity: 'critical', message: /upper critical going high/ };
    },
    unsupported: (d) => d.powerReading(at('sim-no-dcmi')),
    measuresPower: true,
    truePower: () => driver.state(target).power,
    trueMedia: () => driver.state(target).media.image,
    close: () => driver.close(),
  };
});
