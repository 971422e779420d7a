// One image file (disk image, kernel, initrd) to a booting host: the head in express (Range, If-Range, conditional
// GET), the body by sendfile(2) in the native addon, or by a read stream where sendfile cannot run.
import fs, { type Stats } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import type { Request, Response } from 'express';
import { RackhandError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { fileSender, fileSenderError } from '../../native/file-sender.js';

/** Read size of the stream path: reads of 512 KiB instead of 64 KiB more than double its throughput. */
const STREAM_READ_BYTES = 512 * 1024;
/** A host that takes no byte for this long is let go (nginx's send_timeout): a hung installer holds nothing. */
const STALL_MS = 60_000;
const NOTHING = Buffer.alloc(0);
let streamReasonLogged = false;

/**
 * Answers GET/HEAD for `file` (already confined to the images directory); settles when the response has ended.
 * Opens synchronously, as nginx does: a local open and fstat take microseconds, while each thread-pool hop costs
 * the first byte milliseconds on a loaded machine (bench/deploy.ts).
 */
export async function imageResponse(req: Request, res: Response, file: string, opts: ImageResponseOptions = {}): Promise<void> {
  const { log } = opts;
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    throw new RackhandError('NOT_FOUND', 'no such image');
  }
  let streamed = false;
  try {
    // The open file's own size and times: a file replaced meanwhile cannot mix its length with another's bytes.
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new RackhandError('NOT_FOUND', 'no such image');
    const body = head(req, res, file, st);
    if (!body || req.method === 'HEAD') return void res.end();
    const socketFd = sendfileSocket(res);
    if (typeof socketFd === 'number' && (await sendNative(res, fd, socketFd, body, opts))) return;
    if (typeof socketFd === 'string' && !streamReasonLogged) {
      log?.info({ reason: socketFd }, 'images stream through JavaScript (no sendfile)');
      streamReasonLogged = true;
    }
    streamed = true;
    await sendStream(res, fd, body);
  } finally {
    // The read stream closes its descriptor itself, once no read is in flight on it; the native sender has its own.
    if (!streamed) fs.closeSync(fd);
  }
}

export interface ImageResponseOptions {
  log?: Logger;
  /** TCP congestion control for bodies sent by sendfile ('' or unset: the system's); config boot.imageCongestionControl. */
  congestionControl?: string;
}

interface Span {
  start: number;
  length: number;
}

/** Sets status and headers; the byte span to send, or undefined when the answer has no body (304, 416, empty). */
function head(req: Request, res: Response, file: string, st: Stats): Span | undefined {
  // The same validators `send` (express's sendFile) gave, so a client resuming across an upgrade still matches.
  const etag = `W/"${st.size.toString(16)}-${st.mtime.getTime().toString(16)}"`;
  res.set({ 'accept-ranges': 'bytes', 'cache-control': 'no-cache', 'last-modified': st.mtime.toUTCString(), etag });
  res.type(path.extname(file));
  if (req.fresh) return void res.status(304);
  let span: Span = { start: 0, length: st.size };
  if (req.headers.range && rangeStillValid(req, etag, st.mtime)) {
    const ranges = req.range(st.size, { combine: true });
    if (ranges === -1) return void res.status(416).set('content-range', `bytes */${st.size}`);
    // Several ranges would need multipart/byteranges, which no boot client asks for: they get the whole file.
    if (Array.isArray(ranges) && ranges.type === 'bytes' && ranges.length === 1) {
      span = { start: ranges[0].start, length: ranges[0].end - ranges[0].start + 1 };
      res.status(206).set('content-range', `bytes ${ranges[0].start}-${ranges[0].end}/${st.size}`);
    }
  }
  res.set('content-length', String(span.length));
  return span.length > 0 ? span : undefined;
}

/** If-Range: the range applies only while the file is the one the client started with (its ETag or date). */
function rangeStillValid(req: Request, etag: string, mtime: Date): boolean {
  const ifRange = req.get('if-range');
  if (!ifRange) return true;
  if (ifRange.includes('"')) return ifRange.includes(etag);
  const date = Date.parse(ifRange);
  return Number.isFinite(date) && Math.floor(mtime.getTime() / 1000) * 1000 <= date;
}

/**
 * The socket's descriptor when the kernel can send the body itself, else why not. Not over TLS (the bytes must
 * pass through OpenSSL), not without the addon, and not for a pipelined request whose response still waits
 * behind another one on its connection.
 */
function sendfileSocket(res: Response): number | string {
  if (!fileSender()) return `native addon: ${fileSenderError() || 'not built'}`;
  const socket = res.socket as (Socket & Partial<Pick<TLSSocket, 'encrypted'>>) | null;
  if (!socket) return 'the response waits for its connection';
  if (socket.encrypted) return 'TLS connection';
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : 'the connection has no descriptor';
}

/** The body by sendfile: true when the response is over (sent, or the connection dropped), false to stream it. */
async function sendNative(res: Response, fileFd: number, socketFd: number, span: Span, { log, congestionControl = '' }: ImageResponseOptions): Promise<boolean> {
  const socket = res.socket!;
  res.flushHeaders();
  // The head must be in the kernel before the body: an empty write completes only after every write before it.
  await new Promise<void>((resolve) => socket.write(NOTHING, () => resolve()));
  if (socket.destroyed) return true;
  if (socket.writableLength > 0 || res.socket !== socket) return false;
  let job;
  try {
    job = fileSender()!.send(socketFd, fileFd, span.start, span.length, STALL_MS, congestionControl);
  } catch (e) {
    log?.warn({ err: (e as Error).message }, 'image: sendfile could not start; streaming through JavaScript');
    return false;
  }
  // Node closing the connection (shutdown, a read error) would leave the job's duplicate holding it open.
  const cancel = () => job.cancel();
  res.once('close', cancel);
  const r = await job.done;
  res.off('close', cancel);
  if (r.result === 'ok') {
    res.end();
    return true;
  }
  if (r.result === 'failed') log?.warn({ file: path.basename(res.req.path), sent: r.bytes, reason: r.message }, 'image: send failed; connection dropped');
  // The head promised more bytes than arrived: only closing the connection tells the client.
  res.destroy();
  return true;
}

async function sendStream(res: Response, fd: number, span: Span): Promise<void> {
  const stream = fs.createReadStream('', { fd, start: span.start, end: span.start + span.length - 1, highWaterMark: STREAM_READ_BYTES });
  // Here Node writes every chunk itself, so the socket's idle timer is the stall timer (sendfile bypasses it).
  res.setTimeout(STALL_MS, () => res.destroy());
  // A client that goes away ends the pipeline with an error; the connection is already gone.
  await pipeline(stream, res).catch(() => res.destroy());
}
