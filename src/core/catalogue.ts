// The OS catalogue as the site has it: the built-in entries and the configuration's, plus every disk image
// imported with an os id; and whether each entry's images are in the store (an entry that is not ready is refused
// before anything is armed).
import { RackhandError } from '../errors.js';
import { diskImageEntry, findOs, osCatalogueSchema, type OsCatalogue, type OsEntry } from '../boot/templates/index.js';
import type { FileState, ImageStore } from '../images/image-store.js';

export interface CatalogueListing {
  /** The first numeric os_id (what eq takes), or null. */
  id: number | null;
  os_id: string;
  name: string;
  family: OsEntry['family'];
  ready: boolean;
  /** What keeps it from being ready: an image and its file that is missing or damaged. */
  missing: { image: string; file: string; state: FileState['state']; detail?: string }[];
}

export class Catalogue {
  constructor(
    private readonly configured: OsCatalogue,
    private readonly images: ImageStore,
  ) {}

  /** Every entry: configured ones, then one per disk image offered as an OS (a configured key wins). */
  all(): OsCatalogue {
    const fromImages: Record<string, unknown> = {};
    for (const img of this.images.list()) {
      if (img.kind === 'disk' && img.os && !(img.name in this.configured)) fromImages[img.name] = diskImageEntry(img.name, img.os);
    }
    if (Object.keys(fromImages).length === 0) return this.configured;
    const merged = osCatalogueSchema.safeParse({ ...fromImages, ...this.configured });
    // An imported image whose os ids collide with a configured entry is left out rather than breaking the catalogue.
    return merged.success ? merged.data : this.configured;
  }

  find(ref: { osId?: string | number; osName?: string }): { osId: string; os: OsEntry } {
    return findOs(this.all(), ref);
  }

  /** What an entry lacks in the store; empty when it can boot. */
  missing(os: OsEntry): CatalogueListing['missing'] {
    return os.images.flatMap((image) => this.images.problems(image).map((p) => ({ image, file: p.file, state: p.state, detail: p.detail })));
  }

  /** IMAGE_MISSING, naming the image and file, unless every image of the entry is in the store. */
  requireReady(osId: string, os: OsEntry): void {
    const [m] = this.missing(os);
    if (!m) return;
    const how = m.image === 'rackhand-ramdisk' ? 'rackhand images build' : `rackhand images import ${m.image} …`;
    throw new RackhandError(
      'IMAGE_MISSING',
      `${osId} needs the image ${m.image}${m.file === '*' ? '' : ` (file ${m.file})`}, which is ${m.state === 'corrupt' ? 'damaged' : 'not in the store'}: ${how}`,
      { os_id: osId, image: m.image, file: m.file, state: m.state },
    );
  }

  list(): CatalogueListing[] {
    return Object.entries(this.all()).map(([osId, os]) => {
      const missing = this.missing(os);
      return { id: os.ids[0] ?? null, os_id: osId, name: os.name, family: os.family, ready: missing.length === 0, missing };
    });
  }
}
