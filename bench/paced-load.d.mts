// Types of paced-load.mjs for the TypeScript benches.
export interface PacedRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
}
export interface PacedResult {
  requests: number;
  /** The rate achieved, requests per second. */
  rate: number;
  /** Milliseconds from when each request was due. */
  p50: number;
  p99: number;
  max: number;
  /** p99 of how late the generator sent a request (its own event loop's delay), in milliseconds. */
  sendLagP99: number;
  /** Failed requests and answers other than 2xx. */
  errors: number;
}
export function paced(url: string, rate: number, seconds: number, pick: () => PacedRequest): Promise<PacedResult>;
