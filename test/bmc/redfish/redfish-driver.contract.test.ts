// The BmcDriver contract for the redfish driver against emulated Redfish BMCs over HTTPS (in-memory machines): one
// that works, a closed port, a web server that accepts and never answers (hang), one without power metering.
import { createServer, type Server } from 'node:http';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { RedfishDriver } from '../../../src/bmc/redfish/redfish-driver.js';
import { MemoryMachine } from '../../harness/redfish-bmc/emulated-machine.js';
import { MemoryCertificatePins } from '../../harness/redfish-bmc/memory-certificate-pins.js';
import { RedfishEmulator } from '../../harness/redfish-bmc/redfish-emulator.js';
import { startUnreachableBmc } from '../../harness/redfish-bmc/unreachable-bmc.js';
import { describeBmcDriverContract } from '../driver-contract.js';

describeBmcDriverContract('redfish on the emulator', async () => {
  const password = 'rf-Contract-7';
  const machine = new MemoryMachine({ power: 'Off' });
  const emu = await new RedfishEmulator({ machine, username: 'admin', password }).start();
  const unmetered = await new RedfishEmulator({ machine: new MemoryMachine({ power: 'On' }), username: 'admin', password }).start();
  unmetered.measuresPower = false;
  const refused = await startUnreachableBmc('refused');
  // The BMC fetches what it is given as virtual media, as a real one does.
  const images: Server = createServer((req, res) => res.writeHead(req.url?.startsWith('/boot/iso/') ? 200 : 404).end(Buffer.alloc(2048, 7)));
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', () => r()));
  const imageBase = `http://127.0.0.1:${(images.address() as { port: number }).port}/boot/iso`;
  const driver = new RedfishDriver({ trust: { mode: 'pin', pins: new MemoryCertificatePins() }, powerPollMs: 20, reassertPauseMs: 20 });
  const at = (port: number): BmcTarget => ({ host: '127.0.0.1', port, username: 'admin', password, cipherSuite: 3, privilege: 'administrator' });
  return {
    driver,
    target: at(emu.port),
    unreachable: at(refused.port),
    async hang() {
      const silent = await startUnreachableBmc('silent');
      return { target: at(silent.port), release: () => silent.stop() };
    },
    inFlight: () => driver.requestsInFlight(),
    async addEvent() {
      emu.addLogEntry({ severity: 'Critical', message: 'CPU1 Temp: upper critical going high', messageId: 'Platform.1.0.TempCritical', sensorType: 'Temperature' });
      return { severity: 'critical', message: /CPU1 Temp: upper critical going high/ };
    },
    unsupported: (d) => d.powerReading(at(unmetered.port)),
    measuresPower: true,
    truePower: () => (machine.powerState() === 'On' ? 'on' : 'off'),
    mediaImages: [`${imageBase}/first.iso`, `${imageBase}/second.iso`],
    trueMedia: () => (emu.media.inserted ? emu.media.image : null),
    async close() {
      await driver.close();
      await Promise.all([emu.stop(), unmetered.stop()]);
      await new Promise<void>((r) => images.close(() => r()));
    },
  };
});
