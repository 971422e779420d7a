// Times every call of a BMC driver into the metrics' command latency histogram (wrap before the scheduler).
import type { BmcDriver } from '../bmc/bmc-driver.js';
import { withBmcMiddleware } from '../bmc/bmc-middleware.js';
import type { Metrics } from './metrics.js';

/** powerStatus → power_status: the label values the histogram has always had. */
function label(op: string): string {
  return op.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export function instrumentBmcDriver(driver: BmcDriver, metrics: Pick<Metrics, 'observeBmcCommand'>): BmcDriver {
  return withBmcMiddleware(driver, async (call, next) => {
    const t0 = process.hrtime.bigint();
    let ok = false;
    try {
      const r = await next(call.options);
      ok = true;
      return r;
    } finally {
      metrics.observeBmcCommand(call.driver, label(call.op), Number(process.hrtime.bigint() - t0) / 1e9, ok);
    }
  });
}
