/**
 * Time as stages see it. Stages never read `Date.now()` or `performance.now()` themselves: the runtime passes the
 * system clock, the topology test driver a manual one, so a test controls every time a stage reads.
 */
export interface Clock {
  /** Wall-clock time in epoch ms: for times written into records (decided_at). */
  wallMs(): number
  /** Monotonic ms for durations (latency, waits); only differences mean anything. */
  nowMs(): number
}
