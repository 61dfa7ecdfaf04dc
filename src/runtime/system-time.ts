import type { Clock } from '../core/clock.js'
import type { Scheduler } from '../core/scheduler.js'

export const systemClock: Clock = { wallMs: () => Date.now(), nowMs: () => performance.now() }

export const systemScheduler: Scheduler = {
  after(delayMs, fn) {
    const timer = setTimeout(fn, delayMs)
    return { cancel: () => clearTimeout(timer) }
  },
  every(intervalMs, fn) {
    const timer = setInterval(fn, intervalMs)
    return { cancel: () => clearInterval(timer) }
  },
}
