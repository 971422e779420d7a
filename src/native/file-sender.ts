// Sends a file's byte range to a connected socket with sendfile(2) on the native addon's threads (file_sender.c).

import { readFileSync } from 'node:fs';
import os from 'node:os';
import { nativeAddon, nativeAddonError } from './native-addon.js';

export interface FileSenderBinding {
  init(threads: number, onDone: (...a: DoneArgs) => void): void;
  start(id: number, socketFd: number, fileFd: number, offset: number, length: number, stallMs: number, congestion: string): object;
  cancel(handle: object): void;
}

type DoneArgs = [id: number, result: FileSendResult['result'], bytes: number, message: string];

/** 'aborted': the client went, stopped reading for stallMs, or cancel(); 'failed': anything else (`message` says what). */
export interface FileSendResult {
  result: 'ok' | 'aborted' | 'failed';
  bytes: number;
  message: string;
}

export interface FileSend {
  readonly done: Promise<FileSendResult>;
  /** Ends the send early (the job closes its descriptors, done resolves 'aborted'); a no-op once done. */
  cancel(): void;
}

export interface FileSender {
  /**
   * Starts sending `length` bytes of `fileFd` from `offset` to `socketFd`, a connected non-blocking stream socket
   * nothing else writes to until done. Both descriptors are duplicated: the caller may close its own at once.
   * A client that takes no byte for `stallMs` (looked at once a second) ends the send. `congestion` names the TCP
   * congestion control the body is sent with ('' keeps the system's; see tcpCongestionControlProblem).
   * Throws when the send cannot start (then nothing was sent).
   */
  send(socketFd: number, fileFd: number, offset: number, length: number, stallMs: number, congestion: string): FileSend;
}

let binding: FileSenderBinding | null | undefined;
let loadError = '';
const running = new Map<number, (r: FileSendResult) => void>();
let nextId = 1;

/** Called from the addon's completion queue: nothing may throw back into native code. */
function onDone(...[id, result, bytes, message]: DoneArgs): void {
  const settle = running.get(id);
  running.delete(id);
  try {
    settle?.({ result, bytes, message });
  } catch {
    // settle() only resolves a promise
  }
}

const sender: FileSender = {
  send(socketFd, fileFd, offset, length, stallMs, congestion) {
    const b = binding!;
    const id = nextId;
    nextId = (nextId % 0xffff_ffff) + 1;
    const handle = b.start(id, socketFd, fileFd, offset, length, stallMs, congestion);
    let finished = false;
    const done = new Promise<FileSendResult>((resolve) => {
      running.set(id, (r) => {
        finished = true;
        resolve(r);
      });
    });
    // The handle names native memory that is freed when the job is reported: cancel only before that.
    return {
      done,
      cancel() {
        if (!finished) b.cancel(handle);
      },
    };
  },
};

/**
 * The sender, its threads started once per process (one per core, at most 2: a send is a page-cache copy, and one
 * thread keeps up with a 10 Gb/s link); undefined when the addon was not built or could not start (then
 * `fileSenderError()` says why).
 */
export function fileSender(): FileSender | undefined {
  if (binding === undefined) {
    binding = null;
    const b = nativeAddon()?.fileSender;
    try {
      b?.init(Math.min(2, os.availableParallelism()), onDone);
      binding = b ?? null;
      loadError = b ? '' : nativeAddonError();
    } catch (e) {
      loadError = (e as Error).message.split('\n')[0];
    }
  }
  return binding ? sender : undefined;
}

export function fileSenderError(): string {
  return loadError;
}

/**
 * Why the kernel would not give image sockets `name` as their congestion control (the sender then keeps the system's),
 * or undefined when it will ('' asks for nothing). Root may pick any available one; others only the allowed ones.
 */
export function tcpCongestionControlProblem(name: string): string | undefined {
  if (!name) return undefined;
  const list = process.getuid?.() === 0 ? 'available' : 'allowed';
  let offered: string[];
  try {
    offered = readFileSync(`/proc/sys/net/ipv4/tcp_${list}_congestion_control`, 'utf8').trim().split(/\s+/);
  } catch {
    return 'the kernel does not say which TCP congestion controls it has';
  }
  return offered.includes(name) ? undefined : `TCP congestion control ${name} is not among the kernel's ${list} ones (${offered.join(' ')})`;
}
