import * as hdr from 'hdr-histogram-js'

/** Latencies up to an hour at 3 significant digits: a few tens of KiB, every sample counted, the tail kept exact. */
const HIGHEST_TRACKABLE_US = 3_600_000_000

/**
 * A latency distribution for summaries and benchmarks, in an HDR histogram (hdr-histogram-js, the HdrHistogram
 * port autocannon uses): every sample counts, in bounded memory, so p99.9 and the maximum are what happened, where a
 * reservoir would lose the tail. Values are recorded in microseconds and read in milliseconds.
 */
export class LatencyRecorder {
  readonly #histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  })

  /** `count` samples of `ms` each (a batch that went through together is one call). */
  record(ms: number, count = 1): void {
    if (!(ms >= 0) || count <= 0) return
    this.#histogram.recordValueWithCount(Math.min(HIGHEST_TRACKABLE_US, Math.max(1, Math.round(ms * 1000))), count)
  }

  /** Forgets every sample, so a benchmark's figures cover only its measured window and not the warm-up before it. */
  reset(): void {
    this.#histogram.reset()
  }

  get count(): number {
    return this.#histogram.totalCount
  }

  /** The value at percentile `p` (0–100) in ms; 0 before any sample. */
  percentile(p: number): number {
    return this.count === 0 ? 0 : this.#histogram.getValueAtPercentile(p) / 1000
  }

  get maxMs(): number {
    return this.count === 0 ? 0 : this.#histogram.maxValue / 1000
  }

  /** p50, p99, p99.9 and max in ms, rounded to µs: the shape a summary prints. */
  summary(): { p50: number; p99: number; p999: number; max: number } {
    // A percentile reads the top of its bucket, which can pass the largest sample: capped at it.
    const max = this.maxMs
    const at = (p: number) => Math.round(Math.min(max, this.percentile(p)) * 1000) / 1000
    return { p50: at(50), p99: at(99), p999: at(99.9), max: Math.round(max * 1000) / 1000 }
  }
}
