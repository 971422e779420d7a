// Quirk adapter: virtual media that keeps Image/ImageName after EjectMedia, which then blocks InsertMedia; a PATCH of
// {Image: null, Inserted: false} clears it.
import { stringOf, type Json } from '../redfish-json.js';

export const staleImageName = {
  name: 'stale-image-name',
  /** Nothing is inserted, yet an image is still named. */
  applies(vm: Json): boolean {
    return vm.Inserted !== true && (!!stringOf(vm.Image) || !!stringOf(vm.ImageName));
  },
  clear: { Image: null, Inserted: false },
};
