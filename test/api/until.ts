// Waiting in API tests: poll until a condition holds (never a fixed sleep), and until a task has finished.

/** Poll `fn` every 50 ms until it returns something truthy; fail naming `what` after `tries` polls. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The task once it is no longer queued or running, read through `get` (the caller's client and token). */
export function finishedTask(get: (path: string) => Promise<{ json: any }>, id: number): Promise<any> {
  return until(`task ${id} to finish`, async () => {
    const t = (await get(`/api/v1/tasks/${id}`)).json;
    return !['queued', 'running'].includes(t.state) && t;
  }, 400);
}
