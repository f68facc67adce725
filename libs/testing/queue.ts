import type { Queue } from 'bull';

/**
 * Resolves when the queue has nothing waiting, active or delayed. Wakes on the queue's own completion and failure
 * events (and a short tick for delayed jobs becoming due), so a test waits exactly as long as the work takes.
 */
export async function waitForQueueIdle(queue: Queue, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const idle = async () => {
    const c = await queue.getJobCounts();
    return c.waiting + c.active + c.delayed === 0;
  };
  while (!(await idle())) {
    if (Date.now() > deadline) {
      throw new Error(`queue ${queue.name} still busy after ${timeoutMs} ms: ${JSON.stringify(await queue.getJobCounts())}`);
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        queue.off('global:completed', done);
        queue.off('global:failed', done);
        resolve();
      };
      const timer = setTimeout(done, 25);
      queue.on('global:completed', done);
      queue.on('global:failed', done);
    });
  }
}

/** Removes every key a test's queue prefix left in Redis. */
export async function purgeQueue(queue: Queue): Promise<void> {
  await queue.obliterate({ force: true }).catch(() => undefined);
}
