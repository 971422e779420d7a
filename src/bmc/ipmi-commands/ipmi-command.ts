// The shape of one IPMI command (request bytes and how its answer reads) and of the runner a driver sends them with:
// the native driver in its RMCP+ session, the ipmitool driver through `ipmitool raw`. Both send the same bytes.
import { RackhandError } from '../../errors.js';
import { completionCodeError } from './completion-codes.js';

export interface IpmiReply {
  completionCode: number;
  /** The answer's data after the completion code. */
  data: Buffer;
}

export interface IpmiCommand<T> {
  /** "Get Chassis Status": names the command in errors. */
  readonly name: string;
  readonly netFn: number;
  readonly cmd: number;
  readonly data: Buffer;
  /** Responder LUN (sensors behind LUN 1-3); 0 when absent. */
  readonly lun?: number;
  /** Completion codes besides 0 that are an answer rather than a failure; decode() sees them. */
  readonly accept?: readonly number[] | 'any';
  /** Request data carries a secret (a password): kept off every command line and out of verbose output. */
  readonly secret?: boolean;
  /** The reply as a value; throws RackhandError('BMC_ERROR') when the BMC's answer is malformed. */
  decode(reply: IpmiReply): T;
}

/** Sends commands to one BMC in one session. */
export interface IpmiCommandRunner {
  /**
   * Sends every command in order and returns every reply, whatever its completion code (a later command still runs
   * after an earlier one failed, as in an ipmitool script). Rejects only when the session itself fails: no answer,
   * authentication, cancellation. For secret commands the ipmitool driver learns only success or failure of the
   * whole batch: it rejects on failure and returns empty data on success.
   */
  send(cmds: readonly IpmiCommand<unknown>[]): Promise<IpmiReply[]>;
  /**
   * Every record of a repository read in one go, when the transport has a better way than one command per record
   * (ipmitool's `sdr dump` / `sel writeraw`); absent: the caller walks it with Get SDR / Get SEL Entry.
   */
  dump?(repository: 'sdr' | 'sel'): Promise<Buffer>;
}

/** The reply's value, or the completion code's error when it is neither 0 nor accepted. */
export function decodeReply<T>(c: IpmiCommand<T>, r: IpmiReply): T {
  const accepted = r.completionCode === 0 || c.accept === 'any' || (c.accept?.includes(r.completionCode) ?? false);
  if (!accepted) throw completionCodeError(r.completionCode, c.name);
  return c.decode(r);
}

/** Sends one command and decodes its reply. */
export async function runCommand<T>(runner: IpmiCommandRunner, c: IpmiCommand<T>): Promise<T> {
  const [r] = await runner.send([c]);
  if (!r) throw new RackhandError('BMC_ERROR', `${c.name}: no reply`);
  return decodeReply(c, r);
}

/** Sends commands in one session; every one runs, then the first failure (if any) is thrown. */
export async function runCommands<T extends readonly IpmiCommand<unknown>[]>(
  runner: IpmiCommandRunner,
  cmds: T,
): Promise<{ [K in keyof T]: T[K] extends IpmiCommand<infer R> ? R : never }> {
  const replies = await runner.send(cmds);
  if (replies.length < cmds.length) throw new RackhandError('BMC_ERROR', `${cmds[replies.length]!.name}: no reply`);
  return cmds.map((c, i) => decodeReply(c, replies[i]!)) as { [K in keyof T]: T[K] extends IpmiCommand<infer R> ? R : never };
}

/** A response shorter than the command defines: the BMC is at fault, not the caller. */
export function need(what: string, data: Buffer, len: number): void {
  if (data.length < len) throw new RackhandError('BMC_ERROR', `${what}: response too short (${data.length} < ${len} bytes)`);
}

/** A command whose answer carries nothing the caller needs. */
export function plainCommand(name: string, netFn: number, cmd: number, data: number[] | Buffer = [], o: Pick<IpmiCommand<void>, 'accept' | 'secret' | 'lun'> = {}): IpmiCommand<void> {
  return { name, netFn, cmd, data: Buffer.from(data), ...o, decode: () => undefined };
}
