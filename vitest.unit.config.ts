// `npm run test:unit`: in-process tests only (no peers, no processes, no build of dist/ first: they import src/).
// The layers above the protocol planes and the planes' in-process tests; a test that spawns or binds stays out.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/core/**/*.test.ts',
      'test/store/**/*.test.ts',
      'test/auth/**/*.test.ts',
      'test/log.test.ts',
      // in-process tests of the planes and the task layer: codecs, parsers, templates, the scheduler, the runner
      'test/tasks/task-runner.test.ts',
      'test/tasks/reboot-after-install.test.ts',
      'test/bmc/bmc-scheduler.test.ts',
      'test/bmc/bmc-task-cancel.test.ts',
      'test/bmc/power-sync.test.ts',
      'test/bmc/ipmi/ipmi-codec.test.ts',
      'test/bmc/ipmi/ipmi-crypto.test.ts',
      'test/bmc/ipmi-commands/*.test.ts',
      'test/bmc/ipmitool/ipmitool-parsers.test.ts',
      'test/boot/templates/render.test.ts',
      'test/boot/templates/value-schemas.test.ts',
      'test/boot/tftp/tftp-packet.test.ts',
      'test/boot/dhcp/dhcp-codec.test.ts',
      'test/ipam/ip-address.test.ts',
    ],
    pool: 'forks',
  },
});
