export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as { __settleContainers?: { stop(): Promise<unknown> }[] }).__settleContainers ?? [];
  await Promise.allSettled(started.map((c) => c.stop()));
}
