// Times every call of a BMC driver into the metrics' command latency histogram (wrap before the scheduler).
import type { BmcDriver } from '../bmc/bmc-driver.js';
import type { Metrics } from './metrics.js';

export function instrumentBmcDriver(driver: BmcDriver, metrics: Pick<Metrics, 'observeBmcCommand'>): BmcDriver {
  const timed = <A extends unknown[], R>(op: string, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const t0 = process.hrtime.bigint();
      let ok = false;
      try {
        const r = await fn(...a);
        ok = true;
        return r;
      } finally {
        metrics.observeBmcCommand(driver.name, op, Number(process.hrtime.bigint() - t0) / 1e9, ok);
      }
    };
  return {
    name: driver.name,
    powerStatus: timed('power_status', (t) => driver.powerStatus(t)),
    power: timed('power', (t, a) => driver.power(t, a)),
    getBootDevice: timed('get_boot_device', (t) => driver.getBootDevice(t)),
    setBootDevice: timed('set_boot_device', (t, s) => driver.setBootDevice(t, s)),
    sensors: timed('sensors', (t) => driver.sensors(t)),
    listUsers: timed('list_users', (t) => driver.listUsers(t)),
    addUser: timed('add_user', (t, u) => driver.addUser(t, u)),
    setUserPassword: timed('set_user_password', (t, n, p) => driver.setUserPassword(t, n, p)),
    setUserEnabled: timed('set_user_enabled', (t, n, e) => driver.setUserEnabled(t, n, e)),
    removeUser: timed('remove_user', (t, n) => driver.removeUser(t, n)),
    resetBmc: timed('reset_bmc', (t, k) => driver.resetBmc(t, k)),
    deviceInfo: timed('device_info', (t) => driver.deviceInfo(t)),
    close: () => driver.close(),
  };
}
