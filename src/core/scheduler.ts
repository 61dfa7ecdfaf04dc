/** A timer the runtime can cancel. */
export interface Cancel {
  cancel(): void
}

/**
 * Timers as the runtime uses them: real ones in a deployment, a manual one in the topology test driver, so a test
 * decides when a linger expires or a periodic commit runs.
 */
export interface Scheduler {
  after(delayMs: number, fn: () => void): Cancel
  every(intervalMs: number, fn: () => void): Cancel
}
