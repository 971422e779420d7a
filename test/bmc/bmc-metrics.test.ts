// BMC metrics: the generic middleware times every operation (old label values kept, new operations included with
// no per-method code), and the native driver's rejected datagrams reach /metrics as a counter by reason.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { instrumentBmcDriver } from '../../src/metrics/instrument-bmc-driver.js';
import { SimulatedDriver } from '../../src/bmc/simulated/simulated-driver.js';
import { BMC_OPERATIONS, type BmcTarget } from '../../src/bmc/bmc-driver.js';

const t: BmcTarget = { host: '10.2.0.1', port: 623, username: 'admin', password: 'pw', cipherSuite: 3, privilege: 'administrator' };

describe('BMC metrics', () => {
  it('every operation is timed under its snake_case name, failures as errors, with no per-method wrapper', async () => {
    const seen: [string, string, boolean][] = [];
    const d = instrumentBmcDriver(new SimulatedDriver(), { observeBmcCommand: (driver, op, _s, ok) => void seen.push([driver, op, ok]) });
    await d.powerStatus(t);
    await d.readEventLog(t);
    await d.powerReading(t);
    await d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: false });
    await d.power(t, 'explode' as never).catch(() => undefined);
    expect(seen).toEqual([
      ['simulated', 'power_status', true],
      ['simulated', 'read_event_log', true],
      ['simulated', 'power_reading', true],
      ['simulated', 'set_boot_device', true],
      ['simulated', 'power', false],
    ]);
    for (const op of Object.keys(BMC_OPERATIONS)) expect(typeof (d as unknown as Record<string, unknown>)[op]).toBe('function');
  });

  it('rejected RMCP+ datagrams are a counter by reason', async () => {
    const m = createMetrics({ processMetrics: false, bmcRejectedDatagrams: () => ({ decode: 3, integrity: 1, 'session-id': 2 }) });
    const text = await m.text();
    expect(text).toMatch(/^# TYPE rackhand_bmc_rejected_datagrams_total counter$/m);
    expect(text).toMatch(/^rackhand_bmc_rejected_datagrams_total\{event="decode"\} 3$/m);
    expect(text).toMatch(/^rackhand_bmc_rejected_datagrams_total\{event="integrity"\} 1$/m);
    expect(text).toMatch(/^rackhand_bmc_rejected_datagrams_total\{event="session-id"\} 2$/m);
  });
});
