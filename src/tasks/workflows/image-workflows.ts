// Image tasks: import (files or URLs, verified against their sha256), build the ramdisk, re-verify — tied to no
// server, so they take no server lock; progress lines go to the journal.
import { RackhandError } from '../../errors.js';
import type { ImageStore } from '../../images/image-store.js';
import { buildRamdiskImage, importDebianInstaller, importDisk, importNetboot } from '../../images/image-import.js';
import type { Workflow } from '../task-runner.js';

export function imageWorkflows(store: ImageStore): Workflow<'image_import' | 'image_build' | 'image_verify'>[] {
  const importWf: Workflow<'image_import'> = {
    kind: 'image_import',
    mutating: false,
    async run(ctx) {
      const r = ctx.params;
      const progress = (line: string) => ctx.note('progress', line);
      const image = await ctx.step(`import ${r.name}`, () => {
        if (r.debianInstaller) return importDebianInstaller(store, r.name);
        if (r.disk) return importDisk(store, r.name, { ...r.disk, sha256: r.disk.sha256.toLowerCase() }, progress, ctx.signal);
        if (r.netboot) return importNetboot(store, r.name, r.netboot, progress, ctx.signal);
        throw new RackhandError('INVALID_INPUT', 'give exactly one of disk, netboot or debianInstaller');
      });
      return { name: image.name, kind: image.kind, files: image.files };
    },
  };
  const buildWf: Workflow<'image_build'> = {
    kind: 'image_build',
    mutating: false,
    async run(ctx) {
      const image = await ctx.step('build the rackhand ramdisk', () => buildRamdiskImage(store, (line) => ctx.note('build', line)));
      return { name: image.name, files: image.files };
    },
  };
  const verifyWf: Workflow<'image_verify'> = {
    kind: 'image_verify',
    mutating: false,
    async run(ctx) {
      const states = await ctx.step(`re-hash ${ctx.params.name}`, () => store.verify(ctx.params.name));
      const bad = states.filter((s) => s.state !== 'ok');
      if (bad.length) throw new RackhandError('IMAGE_CORRUPT', `${ctx.params.name}: ${bad.map((b) => `${b.file} ${b.state}`).join(', ')}`);
      return { files: states };
    },
  };
  return [importWf, buildWf, verifyWf];
}
