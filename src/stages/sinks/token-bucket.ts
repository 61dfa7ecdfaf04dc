/**
 * A token bucket on the injected clock: `ratePerSecond` tokens a second, at most `burst` saved up (full at the
 * start). `take` spends one if there is one.
 *
 * | rate, burst | takes at ms          | granted                         |
 * | ----------- | -------------------- | ------------------------------- |
 * | 2, 2        | 0, 0, 0              | yes, yes, no                    |
 * | 2, 2        | 0, 0, 0, 500         | yes, yes, no, yes (refilled 1)  |
 */
export class TokenBucket {
  #tokens: number
  #atMs: number

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    nowMs: number,
  ) {
    this.#tokens = burst
    this.#atMs = nowMs
  }

  take(nowMs: number): boolean {
    if (nowMs > this.#atMs) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((nowMs - this.#atMs) * this.ratePerSecond) / 1000)
      this.#atMs = nowMs
    }
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
