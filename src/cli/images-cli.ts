// The image commands of the bootstrap CLI: they work on the state dir's image store directly (no daemon needed).
import { RackhandError } from '../errors.js';
import type { ImageStore, ImageView } from '../images/image-store.js';
import { buildRamdiskImage, importDebianInstaller, importDisk, importNetboot } from '../images/image-import.js';
import type { DiskFormat } from '../store/repos/images-repo.js';

type Flags = Record<string, string | boolean | undefined>;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

function describe(i: ImageView): string {
  const files = i.files.map((f) => `  ${f.file}  ${mib(f.sizeBytes)}  sha256 ${f.sha256}${f.format ? `  ${f.format}` : ''}`).join('\n');
  const problems = i.problems.map((p) => `  ! ${p.file}: ${p.state}${p.detail ? ` (${p.detail})` : ''}`).join('\n');
  return `${i.name}  ${i.kind}  ${i.ready ? 'ready' : 'NOT READY'}  ${i.createdAt}${i.os ? `  os ${i.os.ids.join(',')} "${i.os.name}"` : ''}\n  from ${i.source}\n${files}${problems ? `\n${problems}` : ''}`;
}

/** Runs `images …`; `print` is the CLI's stdout, progress lines go to stderr. */
export async function imagesCommand(name: string, args: string[], flags: Flags, store: ImageStore, print: (s: string) => void): Promise<number> {
  const progress = (line: string) => console.error(line);
  const show = (i: ImageView) => print(flags.json ? JSON.stringify(i) : describe(i));
  const need = () => {
    if (!args[0]) throw new RackhandError('INVALID_INPUT', `${name} needs an image NAME (rackhand images list)`);
    return args[0];
  };
  switch (name) {
    case 'images list': {
      const list = store.list();
      print(flags.json ? JSON.stringify(list) : list.length ? list.map(describe).join('\n') : 'no images yet: rackhand images build, rackhand images import');
      return 0;
    }
    case 'images build':
      show(await buildRamdiskImage(store, progress));
      return 0;
    case 'images import': {
      const image = need();
      if (flags['debian-installer']) return show(await importDebianInstaller(store, image)), 0;
      if (flags.disk) {
        const osId = str(flags['os-id']);
        if (osId !== undefined && !/^\d{1,9}$/.test(osId)) throw new RackhandError('INVALID_INPUT', '--os-id takes a number', { field: 'os-id' });
        const os = osId ? { ids: [Number(osId)], name: str(flags['os-name']) ?? image } : undefined;
        show(await importDisk(store, image, { src: str(flags.disk)!, sha256: str(flags.sha256) ?? '', format: str(flags.format) as DiskFormat | 'qcow2' | undefined, os }, progress));
        return 0;
      }
      if (flags.kernel || flags.initrd) {
        if (!flags.kernel || !flags.initrd) throw new RackhandError('INVALID_INPUT', 'give both --kernel and --initrd (each with its --…-sha256)');
        show(
          await importNetboot(
            store,
            image,
            { kernel: str(flags.kernel)!, kernelSha256: str(flags['kernel-sha256']) ?? '', initrd: str(flags.initrd)!, initrdSha256: str(flags['initrd-sha256']) ?? '' },
            progress,
          ),
        );
        return 0;
      }
      throw new RackhandError('INVALID_INPUT', 'images import needs --disk, --kernel and --initrd, or --debian-installer (rackhand images import --help)');
    }
    case 'images verify': {
      const image = need();
      const states = await store.verify(image);
      for (const s of states) print(`${image}/${s.file}: ${s.state}${s.detail ? ` (${s.detail})` : ''}`);
      return states.every((s) => s.state === 'ok') ? 0 : 1;
    }
    case 'images rm': {
      const image = need();
      store.remove(image);
      print(`removed image ${image}`);
      return 0;
    }
  }
  throw new RackhandError('INVALID_INPUT', `${name} is not an images command`);
}
