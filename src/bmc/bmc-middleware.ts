// One generic way to wrap every operation of a BmcDriver (the scheduler, metrics): a middleware sees the operation's
// name, its target and its options, and calls next. Adding an operation to the contract needs nothing here.
import { BMC_OPERATIONS, type BmcCallOptions, type BmcDriver, type BmcOperation, type BmcTarget } from './bmc-driver.js';

export interface BmcCall {
  driver: string;
  op: BmcOperation;
  target: BmcTarget;
  options: BmcCallOptions;
}

/** Runs the call, usually by calling next (with the options the driver should see) and returning what it returns. */
export type BmcMiddleware = (call: BmcCall, next: (options: BmcCallOptions) => Promise<unknown>) => Promise<unknown>;

/** The same driver with every operation going through `middleware`; close() and the name pass straight through. */
export function withBmcMiddleware(driver: BmcDriver, middleware: BmcMiddleware): BmcDriver {
  const wrapped: Record<string, unknown> = { name: driver.name, close: () => driver.close() };
  for (const [op, between] of Object.entries(BMC_OPERATIONS) as [BmcOperation, number][]) {
    wrapped[op] = (target: BmcTarget, ...rest: unknown[]) => {
      const args = Array.from({ length: between }, (_, i) => rest[i]);
      const options = (rest[between] as BmcCallOptions | undefined) ?? {};
      // The method is looked up per call, as a direct call would: a driver's method replaced later is honoured.
      const next = (o: BmcCallOptions): Promise<unknown> => (driver[op] as (...a: unknown[]) => Promise<unknown>).call(driver, target, ...args, o);
      return middleware({ driver: driver.name, op, target, options }, next);
    };
  }
  return wrapped as unknown as BmcDriver;
}
