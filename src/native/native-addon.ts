// Loads rackhand's native addon (src/native: C on epoll threads, built by `npm run build`) once per process.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TftpEngineBinding } from '../boot/tftp/tftp-native-transfer.js';
import type { FileSenderBinding } from './file-sender.js';

/** What the addon exports: one object per engine, each started by its own `init`. */
export interface NativeAddon {
  tftp: TftpEngineBinding;
  fileSender: FileSenderBinding;
}

/** Where node-gyp leaves the addon, seen from src/native (tests) and from dist/native (the daemon). */
const CANDIDATES = ['./build/Release/rackhand_native.node', '../../src/native/build/Release/rackhand_native.node'];

let addon: NativeAddon | null | undefined;
let loadError = '';

/** The addon, or undefined when it was not built (then `nativeAddonError()` says why). */
export function nativeAddon(): NativeAddon | undefined {
  if (addon !== undefined) return addon ?? undefined;
  addon = null;
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const rel of CANDIDATES) {
    try {
      addon = require(fileURLToPath(new URL(rel, import.meta.url))) as NativeAddon;
      break;
    } catch (e) {
      errors.push((e as Error).message.split('\n')[0]);
    }
  }
  loadError = addon ? '' : errors.join('; ');
  return addon ?? undefined;
}

export function nativeAddonError(): string {
  return loadError;
}
