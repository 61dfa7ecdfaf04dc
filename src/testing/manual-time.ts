import type { Clock } from '../core/clock.js'
import type { Cancel, Scheduler } from '../core/scheduler.js'

interface Timer {
  dueMs: number
  readonly intervalMs: number | undefined
  readonly fn: () => void
  cancelled: boolean
  readonly seq: number
}

/**
 * A clock and scheduler that move only when told (Flink's harness `setProcessingTime`): `advance(ms)` runs every
 * timer that falls due, in time order, at its own time. Wall time is `wallStartMs` plus the same offset.
 */
export class ManualTime implements Clock, Scheduler {
  #nowMs = 0
  #seq = 0
  readonly #timers: Timer[] = []

  constructor(readonly wallStartMs = Date.UTC(2026, 0, 1)) {}

  nowMs(): number {
    return this.#nowMs
  }

  wallMs(): number {
    return this.wallStartMs + this.#nowMs
  }

  after(delayMs: number, fn: () => void): Cancel {
    return this.#add(delayMs, undefined, fn)
  }

  every(intervalMs: number, fn: () => void): Cancel {
    return this.#add(intervalMs, intervalMs, fn)
  }

  /** Timers due now or earlier (`after(0)` included) run; then the clock moves by `ms`, running each as it falls due. */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms
    for (;;) {
      const next = this.#timers
        .filter((t) => !t.cancelled && t.dueMs <= targetMs)
        .sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq)[0]
      if (!next) break
      this.#nowMs = Math.max(this.#nowMs, next.dueMs)
      if (next.intervalMs === undefined) next.cancelled = true
      else next.dueMs += next.intervalMs
      next.fn()
    }
    this.#nowMs = targetMs
    for (let i = this.#timers.length - 1; i >= 0; i--) if (this.#timers[i]!.cancelled) this.#timers.splice(i, 1)
  }

  #add(delayMs: number, intervalMs: number | undefined, fn: () => void): Cancel {
    const timer: Timer = { dueMs: this.#nowMs + delayMs, intervalMs, fn, cancelled: false, seq: this.#seq++ }
    this.#timers.push(timer)
    return { cancel: () => void (timer.cancelled = true) }
  }
}
