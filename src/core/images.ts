// The image capability: what booting hosts can be given (list, readiness), and getting images in — import, build,
// verify as tasks (they take minutes), remove at once.
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import type { ImageStore, ImageView } from '../images/image-store.js';
import type { NetbootRepo } from '../store/repos/netboot-repo.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { TASK_PARAMS } from '../tasks/task-kinds.js';
import type { Catalogue } from './catalogue.js';
import { can, requireAllowed } from './access.js';

export const imageImportSchema = TASK_PARAMS.image_import.refine((r) => [r.disk, r.netboot, r.debianInstaller].filter(Boolean).length === 1, {
  message: 'give exactly one of disk, netboot or debianInstaller',
});
export type ImageImportRequest = z.infer<typeof imageImportSchema>;

export class Images {
  constructor(
    private readonly store: ImageStore,
    private readonly catalogue: Catalogue,
    private readonly netboot: NetbootRepo,
    private readonly tasks: TaskRunner,
  ) {}

  list(p: Principal): ImageView[] {
    requireAllowed(can.seeAllServers(p), 'see images');
    return this.store.list();
  }

  show(p: Principal, name: string): ImageView {
    requireAllowed(can.seeAllServers(p), 'see images');
    const i = this.store.get(name);
    if (!i) throw new RackhandError('NOT_FOUND', `no image named ${name}`);
    return i;
  }

  import(p: Principal, req: ImageImportRequest): TaskRecord {
    requireAllowed(can.manageInventory(p), 'import images');
    return this.tasks.submit('image_import', { serverId: null, params: req, requestedBy: describePrincipal(p) });
  }

  build(p: Principal): TaskRecord {
    requireAllowed(can.manageInventory(p), 'build images');
    return this.tasks.submit('image_build', { serverId: null, params: {}, requestedBy: describePrincipal(p) });
  }

  verify(p: Principal, name: string): TaskRecord {
    this.show(p, name);
    return this.tasks.submit('image_verify', { serverId: null, params: { name }, requestedBy: describePrincipal(p) });
  }

  /** Refused while an armed host would boot it: that host would fetch a 404. */
  remove(p: Principal, name: string): void {
    requireAllowed(can.manageInventory(p), 'remove images');
    const all = this.catalogue.all();
    const users = this.netboot.all().filter((nb) => !nb.callbackAt && all[nb.osId]?.images.includes(name));
    if (users.length) {
      throw new RackhandError('CONFLICT', `image ${name} is armed for server${users.length > 1 ? 's' : ''} ${users.map((u) => u.serverId).join(', ')}: clear_pxe first`, {
        servers: users.map((u) => u.serverId),
      });
    }
    this.store.remove(name);
  }
}
