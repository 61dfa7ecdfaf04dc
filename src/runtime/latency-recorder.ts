const MAX_SAMPLES = 100_000

/**
 * Latency samples for the end-of-run summary (Prometheus gets a histogram). Keeps every sample up to
 * MAX_SAMPLES, then a uniform reservoir of them, so memory stays bounded on long runs.
 */
export class LatencyRecorder {
  readonly #samples: number[] = []
  #seen = 0
  #seed = 0x2545f491

  record(ms: number): void {
    this.#seen++
    if (this.#samples.length < MAX_SAMPLES) {
      this.#samples.push(ms)
      return
    }
    const slot = Math.floor(this.#nextRandom() * this.#seen)
    if (slot < MAX_SAMPLES) this.#samples[slot] = ms
  }

  get count(): number {
    return this.#seen
  }

  percentile(p: number): number {
    if (this.#samples.length === 0) return 0
    const sorted = [...this.#samples].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
  }

  /** xorshift32: a reservoir needs uniform picks, not cryptographic ones, and must not touch Math.random. */
  #nextRandom(): number {
    let x = this.#seed
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.#seed = x >>> 0
    return this.#seed / 4294967296
  }
}
