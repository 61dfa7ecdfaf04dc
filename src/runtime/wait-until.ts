/** Polls `condition` every 5 ms; resolves false at the deadline or as soon as `abort` says so. */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
  abort: () => boolean = () => false,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (abort() || performance.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return true
}
