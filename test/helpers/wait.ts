/** Waiting for something a test cannot be told about: polled, with a deadline. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves once cond() holds; rejects naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
