import type { MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client'
import { LatencyRecorder } from '../runtime/latency-recorder.js'

/** One label value's distribution: Prometheus buckets for scrapes, an HDR histogram for exact quantiles. */
export class RecordSeries {
  readonly bucketCounts: Float64Array
  sum = 0
  count = 0
  readonly #latency = new LatencyRecorder()

  constructor(readonly bucketsSeconds: readonly number[]) {
    this.bucketCounts = new Float64Array(bucketsSeconds.length)
  }

  /** `records` records took `ms` each (a batch that went through together is one call). */
  observeMs(ms: number, records = 1): void {
    if (!(ms >= 0) || records <= 0) return
    const seconds = ms / 1000
    const buckets = this.bucketsSeconds
    for (let i = 0; i < buckets.length; i++)
      if (seconds <= buckets[i]!) {
        this.bucketCounts[i]! += records
        break
      }
    this.sum += seconds * records
    this.count += records
    this.#latency.record(ms, records)
  }

  /** The value at percentile `p` (0–100) in ms, at most the largest sample; 0 before any. */
  percentileMs(p: number): number {
    return Math.min(this.#latency.maxMs, this.#latency.percentile(p))
  }

  get maxMs(): number {
    return this.#latency.maxMs
  }

  reset(): void {
    this.bucketCounts.fill(0)
    this.sum = 0
    this.count = 0
    this.#latency.reset()
  }
}

/**
 * A Prometheus histogram observed per record, not per call: a batch of n records that took d counts n times d with
 * one call, so the distribution is the records' (prom-client's Histogram counts one observation per call, and n calls
 * per batch would cost more than the stages measured). Each label value also keeps an HDR histogram for the
 * quantiles benchmarks print. Registered as a custom collector: prom-client asks `get()` at every scrape.
 */
export class RecordHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #series = new Map<string, RecordSeries>()

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelName: string,
    readonly bucketsSeconds: readonly number[],
    registers: readonly Registry[],
  ) {
    for (const registry of registers) registry.registerMetric(this as never)
  }

  /** The series of one label value: callers keep it and observe without a lookup. */
  series(label: string): RecordSeries {
    let series = this.#series.get(label)
    if (!series) this.#series.set(label, (series = new RecordSeries(this.bucketsSeconds)))
    return series
  }

  labels(): string[] {
    return [...this.#series.keys()]
  }

  reset(): void {
    for (const series of this.#series.values()) series.reset()
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = []
    for (const [label, series] of this.#series) {
      let cumulative = 0
      this.bucketsSeconds.forEach((le, i) => {
        cumulative += series.bucketCounts[i]!
        values.push({ metricName: `${this.name}_bucket`, labels: { le, [this.labelName]: label }, value: cumulative })
      })
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { le: '+Inf', [this.labelName]: label },
        value: series.count,
      })
      values.push({ metricName: `${this.name}_sum`, labels: { [this.labelName]: label }, value: series.sum })
      values.push({ metricName: `${this.name}_count`, labels: { [this.labelName]: label }, value: series.count })
    }
    return { name: this.name, help: this.help, type: 'histogram' as never, values, aggregator: 'sum' } as never
  }
}
