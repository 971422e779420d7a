// The deploy's last BMC step, against a host that plays the races real installers and BMCs play.
import { describe, expect, it } from 'vitest';
import { rebootAfterInstall } from '../../src/tasks/workflows/netboot-workflows.js';
import type { PowerState } from '../../src/bmc/bmc-driver.js';

/** A host whose installer powers it off after `offAfterReads` status reads; a reset of a host that is off does nothing. */
function host(start: PowerState, offAfterReads: number) {
  let power = start;
  let reads = 0;
  const commands: string[] = [];
  const driver = {
    async powerStatus() {
      reads++;
      if (reads > offAfterReads) power = 'off';
      return power;
    },
    async power(_t: unknown, action: string) {
      commands.push(action);
      if (action === 'on') {
        power = 'on';
        offAfterReads = Infinity; // the installed system stays up
      }
    },
  };
  const deps = {
    bmc: { call: (_id: number, op: (drv: any, t: any) => Promise<unknown>) => op(driver, {}) },
    servers: { recordPower() {} },
    timing: { powerPollMs: 5, powerTimeoutMs: 300, softOffTimeoutMs: 300, bmcResetTimeoutMs: 300 },
  } as any;
  const ctx = { serverId: 1, signal: new AbortController().signal } as any;
  return { deps, ctx, commands, power: () => power };
}

/** The settle window, in status reads of 5 ms: the installer's poweroff after 4 reads falls inside it. */
const SETTLE_MS = 100;

describe('reboot into the installed system', () => {
  it('the installer powers off right after the reset was acknowledged: the host is powered on, not given up on', async () => {
    // one read (before the reset) sees it on; every read after sees it off
    const h = host('on', 1);
    await expect(rebootAfterInstall(h.deps, h.ctx, SETTLE_MS)).resolves.toBe('reset, then on');
    expect(h.commands).toEqual(['reset', 'on']);
    expect(h.power()).toBe('on');
  });

  it('the installer powers off a little later, inside the settle window: powered on as well', async () => {
    const h = host('on', 4);
    await expect(rebootAfterInstall(h.deps, h.ctx, SETTLE_MS)).resolves.toBe('reset, then on');
    expect(h.commands).toEqual(['reset', 'on']);
  });

  it('a host that stays on is reset once and nothing more', async () => {
    const h = host('on', Infinity);
    await expect(rebootAfterInstall(h.deps, h.ctx, SETTLE_MS)).resolves.toBe('reset');
    expect(h.commands).toEqual(['reset']);
  });

  it('a host already off is powered on', async () => {
    const h = host('off', Infinity);
    await expect(rebootAfterInstall(h.deps, h.ctx, SETTLE_MS)).resolves.toBe('on');
    expect(h.commands).toEqual(['on']);
  });
});
