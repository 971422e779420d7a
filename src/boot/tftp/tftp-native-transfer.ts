// One read transfer run by the native engine (src/native/tftp_engine.c, built by `npm run build`): the same surface as TftpTransfer.

import os from 'node:os';
import { nativeAddon, nativeAddonError } from '../../native/native-addon.js';
import type { BlockSource } from './tftp-block-source.js';
import { serializeOack } from './tftp-packet.js';
import type { TftpTransferOutcome, TftpTransferParams, TftpTransferRun } from './tftp-transfer.js';

export interface TftpEngineBinding {
  init(threads: number, onDone: (...a: DoneArgs) => void): void;
  start(p: NativeStart): [port: number, handle: object];
  cancel(handle: object, message: string, tellClient: boolean): void;
  acknowledged(handle: object): boolean;
}

interface NativeStart {
  id: number;
  bindAddress: string;
  clientAddress: string;
  clientPort: number;
  data?: Buffer;
  fd: number;
  size: number;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  maxTimeoutMs: number;
  retries: number;
  oack?: Buffer;
}

type DoneArgs = [id: number, result: 'ok' | 'aborted' | 'failed', bytes: number, retransmits: number, badPackets: number, unknownTid: number, code: number, message: string];

let engine: TftpEngineBinding | null | undefined;
let loadError = '';
const running = new Map<number, NativeTransfer>();
let nextId = 1;

/**
 * The engine, started once per process with one epoll thread per core (at most 4); undefined when the
 * addon was not built (then `nativeEngineError()` says why and the server uses the JavaScript engine).
 */
export function nativeEngine(): TftpEngineBinding | undefined {
  if (engine !== undefined) return engine ?? undefined;
  engine = null;
  const m = nativeAddon()?.tftp;
  try {
    m?.init(Math.min(4, os.availableParallelism()), onDone);
    engine = m ?? null;
    loadError = m ? '' : nativeAddonError();
  } catch (e) {
    loadError = (e as Error).message.split('\n')[0];
  }
  return engine ?? undefined;
}

export function nativeEngineError(): string {
  return loadError;
}

/** Called from the engine's completion queue: nothing may throw back into native code. */
function onDone(...[id, result, bytes, retransmits, badPackets, unknownTid, code, message]: DoneArgs): void {
  try {
    const t = running.get(id);
    running.delete(id);
    const counts = { bytes, retransmits, badPackets, unknownTid };
    if (result === 'ok') t?.settle({ result, ...counts });
    else if (result === 'aborted') t?.settle({ result, code, message, ...counts });
    else t?.settle({ result, reason: message, ...counts });
  } catch {
    // settle() only resolves a promise; there is nothing to recover here
  }
}

export class NativeTransfer implements TftpTransferRun {
  readonly done: Promise<TftpTransferOutcome>;
  private resolveDone!: (o: TftpTransferOutcome) => void;
  private readonly id = nextId++ >>> 0;
  private handle: object | undefined;
  private finished = false;
  private cancelledBeforeStart: string | undefined;
  /** Referenced until the engine is done with it: the C side reads its bytes (or its fd) directly. */
  private readonly source: BlockSource;

  constructor(
    private readonly engine: TftpEngineBinding,
    private readonly p: TftpTransferParams,
  ) {
    this.source = p.source;
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  get acknowledged(): boolean {
    return !this.finished && this.handle !== undefined && this.engine.acknowledged(this.handle);
  }

  async start(): Promise<void> {
    if (this.cancelledBeforeStart !== undefined) {
      this.settle({ result: 'failed', reason: this.cancelledBeforeStart, bytes: 0, retransmits: 0, badPackets: 0, unknownTid: 0 });
      return;
    }
    const origin = this.source.origin;
    try {
      const [, handle] = this.engine.start({
        id: this.id,
        bindAddress: this.p.bindAddress,
        clientAddress: this.p.clientAddress,
        clientPort: this.p.clientPort,
        data: 'buffer' in origin ? origin.buffer : undefined,
        fd: 'fd' in origin ? origin.fd : -1,
        size: this.source.size,
        blksize: this.p.blksize,
        windowsize: this.p.windowsize,
        timeoutMs: this.p.timeoutMs,
        maxTimeoutMs: this.p.maxTimeoutMs,
        retries: this.p.retries,
        oack: this.p.oack.size > 0 ? serializeOack(this.p.oack) : undefined,
      });
      this.handle = handle;
      running.set(this.id, this);
    } catch (e) {
      this.settle({ result: 'failed', reason: (e as Error).message, bytes: 0, retransmits: 0, badPackets: 0, unknownTid: 0 });
    }
  }

  cancel(reason: string, tellClient = true): void {
    if (this.finished) return;
    if (this.handle === undefined) this.cancelledBeforeStart = reason;
    else this.engine.cancel(this.handle, reason, tellClient);
  }

  /** The engine is done with the transfer (its socket is closed): release the source, then report. */
  settle(o: TftpTransferOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.handle = undefined;
    void this.source
      .close()
      .catch(() => {})
      .then(() => this.resolveDone(o));
  }
}
