// One image file (disk image, kernel, initrd) to a booting host: the head in express (Range, If-Range, conditional
// GET), the body by sendfile(2) in the native addon, or by a read stream where sendfile cannot run.
import { promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import type { Request, Response } from 'express';
import type { Logger } from '../../log.js';
import { fileSender, fileSenderError } from '../../native/file-sender.js';

/** Read size of the stream path: reads of 512 KiB instead of 64 KiB more than double its throughput. */
const STREAM_READ_BYTES = 512 * 1024;
const NOTHING = Buffer.alloc(0);
let streamReasonLogged = false;

/** Answers GET/HEAD for `file` (already confined to the images directory); settles when the response has ended. */
export async function imageResponse(req: Request, res: Response, file: string, log?: Logger): Promise<void> {
  const fh = await fs.open(file, 'r');
  try {
    // The open file's own size and times: a file replaced meanwhile cannot mix its length with another's bytes.
    const st = await fh.stat();
    const body = head(req, res, file, st);
    if (!body || req.method === 'HEAD') return void res.end();
    const fd = sendfileSocket(res);
    if (typeof fd === 'number') await sendNative(res, fh, fd, body, log);
    else {
      if (!streamReasonLogged) log?.info({ reason: fd }, 'images stream through JavaScript (no sendfile)');
      streamReasonLogged = true;
      await sendStream(res, fh, body);
    }
  } finally {
    await fh.close();
  }
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

async function sendNative(res: Response, fh: FileHandle, socketFd: number, span: Span, log?: Logger): Promise<void> {
  const socket = res.socket!;
  res.flushHeaders();
  // The head must be in the kernel before the body: an empty write completes only after every write before it.
  await new Promise<void>((resolve) => socket.write(NOTHING, () => resolve()));
  if (socket.destroyed) return;
  if (socket.writableLength > 0 || res.socket !== socket) return sendStream(res, fh, span);
  let job;
  try {
    job = fileSender()!.send(socketFd, fh.fd, span.start, span.length);
  } catch (e) {
    log?.warn({ err: (e as Error).message }, 'image: sendfile could not start; streaming through JavaScript');
    return sendStream(res, fh, span);
  }
  // Node closing the connection (shutdown, a read error) would leave the job's duplicate holding it open.
  const cancel = () => job.cancel();
  res.once('close', cancel);
  const r = await job.done;
  res.off('close', cancel);
  if (r.result === 'ok') return void res.end();
  if (r.result === 'failed') log?.warn({ file: path.basename(res.req.path), sent: r.bytes, reason: r.message }, 'image: send failed; connection dropped');
  // The head promised more bytes than arrived: only closing the connection tells the client.
  res.destroy();
}

async function sendStream(res: Response, fh: FileHandle, span: Span): Promise<void> {
  const stream = fh.createReadStream({ start: span.start, end: span.start + span.length - 1, highWaterMark: STREAM_READ_BYTES, autoClose: false });
  // A client that goes away ends the pipeline with an error; the connection is already gone.
  await pipeline(stream, res).catch(() => res.destroy());
}
