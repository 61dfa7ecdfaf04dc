import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { LookupDistinctField, LookupFeature } from '../features/feature-definition.js'
import { amountOverMean, populationStddev, zscore } from '../windows/window-math.js'
import { hash52 } from '../windows/window-groups.js'
import { labelCutoffMs, windowEndMs } from './lookup-plan.js'

/**
 * One time bucket of a key. `applied` holds, per source (`tx/<p>`), the highest source offset counted in it: a
 * source emits a key's facts in offset order, so a fact at or below it is a re-emission after a restart. Keeping
 * it in the bucket keeps the count and the dedupe state in one record of the tables topic, which is written
 * atomically: a crash between two records can neither lose a fact nor count one twice.
 */
export interface Bucket {
  count: number
  sum: number
  min: number
  max: number
  /** The newest event time in the bucket. */
  lastMs: number
  /**
   * Σ(a − ref) and Σ(a − ref)² over the amounts, ref = the bucket's first amount: buckets merge into a window's
   * stddev without the cancellation a plain sum of squares suffers (see populationStddev).
   */
  ref: number
  deviations: number
  squaredDeviations: number
  /**
   * Per field the key kind's distinct_count features count: the 52-bit hashes of the values seen, 9 bytes each in the
   * record whatever a value's length (values as an object's keys would also meet its own, a device_id "__proto__").
   */
  distinct: Partial<Record<LookupDistinctField, Set<number>>>
  applied: Record<string, number>
}

export function emptyBucket(): Bucket {
  return {
    count: 0,
    sum: 0,
    min: Infinity,
    max: -Infinity,
    lastMs: -Infinity,
    ref: 0,
    deviations: 0,
    squaredDeviations: 0,
    distinct: {},
    applied: {},
  }
}

/** Counts a transaction (its amount, time and distinct values) in the bucket. */
export function addToBucket(
  bucket: Bucket,
  fact: {
    readonly amount: number
    readonly eventTimeMs: number
    readonly values?: Readonly<Partial<Record<LookupDistinctField, string>>> | undefined
  },
): void {
  const amount = fact.amount
  if (bucket.count === 0) bucket.ref = amount
  bucket.count++
  bucket.sum += amount
  if (amount < bucket.min) bucket.min = amount
  if (amount > bucket.max) bucket.max = amount
  if (fact.eventTimeMs > bucket.lastMs) bucket.lastMs = fact.eventTimeMs
  const deviation = amount - bucket.ref
  bucket.deviations += deviation
  bucket.squaredDeviations += deviation * deviation
  for (const [field, value] of Object.entries(fact.values ?? {}) as [LookupDistinctField, string][])
    (bucket.distinct[field] ??= new Set()).add(hash52(value))
}

/**
 * [transaction_id, transaction event time, reported_at, is_fraud, label offset]. A transaction's labels share a
 * labels partition (the topic is keyed by transaction_id), so the offset orders labels reported at the same time.
 */
export type LabelEntry = [string, number, number, boolean, number]

/**
 * One terminal's (or merchant's) history in a lookup table: buckets by start time, and the labels of its
 * transactions by the position of the label fact (`labels/<p>@<offset>`, which also makes them idempotent).
 */
export interface KeyAggregate {
  readonly buckets: Map<number, Bucket>
  readonly labels: Map<string, LabelEntry>
}

/** A record of the tables topic: one bucket or one label of a key; undefined value = deleted. */
export type TableEntry =
  | { readonly kind: 'bucket'; readonly key: string; readonly start: number; readonly value: Bucket | undefined }
  | { readonly kind: 'label'; readonly key: string; readonly id: string; readonly value: LabelEntry | undefined }

export function emptyAggregate(): KeyAggregate {
  return { buckets: new Map(), labels: new Map() }
}

export function putEntry(aggregates: Map<string, KeyAggregate>, entry: TableEntry): void {
  let aggregate = aggregates.get(entry.key)
  if (!aggregate) {
    if (entry.value === undefined) return
    aggregates.set(entry.key, (aggregate = emptyAggregate()))
  }
  if (entry.kind === 'bucket') {
    if (entry.value) aggregate.buckets.set(entry.start, entry.value)
    else aggregate.buckets.delete(entry.start)
  } else if (entry.value) aggregate.labels.set(entry.id, entry.value)
  else aggregate.labels.delete(entry.id)
  if (aggregate.buckets.size === 0 && aggregate.labels.size === 0) aggregates.delete(entry.key)
}

/** Every record of a key, for a restore or a copy. */
export function* entriesOf(key: string, aggregate: KeyAggregate): Generator<TableEntry> {
  for (const [start, value] of aggregate.buckets) yield { kind: 'bucket', key, start, value }
  for (const [id, value] of aggregate.labels) yield { kind: 'label', key, id, value }
}

/** A key without history: what a transaction whose key has no aggregate (or no key field) reads. */
export const EMPTY_AGGREGATE: KeyAggregate = { buckets: new Map(), labels: new Map() }

/**
 * What a key's buckets in [startMs, endMs) add up to: everything a lookup feature over that window reads but the
 * transaction's own amount. The counts, sums and extremes are added up at once; the spread, the labels' fraud count per
 * cutoff and the distinct counts per field only when a feature first asks (most feature sets read a count and labels).
 * Consecutive transactions of a key mostly share a window (it ends delayMs before them, on a resolution boundary), so
 * a table keeps summaries and reads a feature in constant time.
 */
export interface WindowSummary extends WindowMoments {
  readonly startMs: number
  spread: Spread | undefined
  fraudBelow: Map<number, number> | undefined
  distinct: Map<LookupDistinctField, number> | undefined
}

/** The earliest bucket's reference amount, and the window's deviations from it (see Bucket.ref). */
export interface Spread {
  readonly reference: number
  readonly deviations: number
  readonly squaredDeviations: number
}

export function summarize(aggregate: KeyAggregate, startMs: number, endMs: number): WindowSummary {
  let count = 0
  let sum = 0
  let min = Infinity
  let max = -Infinity
  let lastMs = -Infinity
  // Stored buckets nest inside the feature's (its resolution is a multiple of the stored one).
  // Keys and a get rather than entries or forEach: neither allocates a pair or a boxed sum per bucket.
  const { buckets } = aggregate
  for (const start of buckets.keys()) {
    if (start < startMs || start >= endMs) continue
    const bucket = buckets.get(start)!
    count += bucket.count
    sum += bucket.sum
    if (bucket.min < min) min = bucket.min
    if (bucket.max > max) max = bucket.max
    if (bucket.lastMs > lastMs) lastMs = bucket.lastMs
  }
  return {
    startMs,
    endMs,
    count,
    sum,
    min,
    max,
    lastMs,
    spread: undefined,
    fraudBelow: undefined,
    distinct: undefined,
  }
}

function spreadOf(aggregate: KeyAggregate, startMs: number, endMs: number): Spread {
  // The deviations' reference: the earliest bucket's, whatever order the buckets are held in.
  let earliestStart = Infinity
  let reference = 0
  aggregate.buckets.forEach((bucket, start) => {
    if (start >= startMs && start < endMs && start < earliestStart) {
      earliestStart = start
      reference = bucket.ref
    }
  })
  // Each bucket's sums moved from its reference to the window's: a − K = (a − ref) + (ref − K).
  let deviations = 0
  let squaredDeviations = 0
  aggregate.buckets.forEach((bucket, start) => {
    if (start < startMs || start >= endMs) return
    const shift = bucket.ref - reference
    deviations += bucket.deviations + bucket.count * shift
    squaredDeviations += bucket.squaredDeviations + 2 * shift * bucket.deviations + bucket.count * shift * shift
  })
  return { reference, deviations, squaredDeviations }
}

function distinctIn(aggregate: KeyAggregate, startMs: number, endMs: number, field: LookupDistinctField): number {
  const values = new Set<number>()
  aggregate.buckets.forEach((bucket, start) => {
    if (start < startMs || start >= endMs) return
    for (const value of bucket.distinct[field] ?? []) values.add(value)
  })
  return values.size
}

/** The window a lookup feature reads for a transaction read at time t: (start, end] as bucket starts [start, end). */
export function lookupWindow(feature: LookupFeature, eventTimeMs: number): { startMs: number; endMs: number } {
  const endMs = windowEndMs(feature, eventTimeMs)
  return { startMs: endMs - feature.spanMs, endMs }
}

/**
 * A lookup feature's value for a transaction read at time t (`eventTimeMs`: PartitionState.observe's lookupAtMs) with
 * its amount; see LookupAggregation for the semantics.
 */
export function lookupValue(
  aggregate: KeyAggregate,
  feature: LookupFeature,
  tx: { readonly eventTimeMs: number; readonly amount: number },
): number {
  const { startMs, endMs } = lookupWindow(feature, tx.eventTimeMs)
  return lookupValueOf(summarize(aggregate, startMs, endMs), aggregate, feature, tx)
}

/** What a window's count, sum, min, max and last time alone give: a window summary's, or an offline memo's. */
export interface WindowMoments {
  readonly endMs: number
  readonly count: number
  readonly sum: number
  readonly min: number
  readonly max: number
  readonly lastMs: number
}

/**
 * The aggregations read from the window's moments alone (count, sum, mean, min, max, amount over mean, seconds since
 * last); undefined for the others (spread, distinct counts, labels), which need the key's records. The live tables and
 * the offline ones both answer these here, so the two cannot drift apart.
 */
export function momentValueOf(moments: WindowMoments, feature: LookupFeature, amount: number): number | undefined {
  const { count, sum } = moments
  switch (feature.aggregation) {
    case 'count':
      return count
    case 'sum':
      return sum
    case 'mean':
      return count > 0 ? sum / count : 0
    case 'min':
      return count > 0 ? moments.min : 0
    case 'max':
      return count > 0 ? moments.max : 0
    case 'amount_over_mean':
      return amountOverMean(amount, count, sum)
    case 'seconds_since_last':
      return (count > 0 ? Math.min(feature.spanMs, moments.endMs - moments.lastMs) : feature.spanMs) / 1000
    default:
      return undefined
  }
}

/** lookupValue from the summary of the feature's window (`aggregate` is the key's, for its labels). */
export function lookupValueOf(
  summary: WindowSummary,
  aggregate: KeyAggregate,
  feature: LookupFeature,
  tx: { readonly eventTimeMs: number; readonly amount: number },
): number {
  const moment = momentValueOf(summary, feature, tx.amount)
  if (moment !== undefined) return moment
  const { count, endMs } = summary
  switch (feature.aggregation) {
    case 'stddev': {
      const spread = (summary.spread ??= spreadOf(aggregate, summary.startMs, endMs))
      return populationStddev(count, spread.deviations, spread.squaredDeviations)
    }
    case 'zscore': {
      const spread = (summary.spread ??= spreadOf(aggregate, summary.startMs, endMs))
      return zscore(tx.amount, count, spread.reference, spread.deviations, spread.squaredDeviations)
    }
    case 'distinct_count': {
      const field = feature.field!
      const known = (summary.distinct ??= new Map())
      let distinct = known.get(field)
      if (distinct === undefined) known.set(field, (distinct = distinctIn(aggregate, summary.startMs, endMs, field)))
      return distinct
    }
    case 'fraud_count':
    case 'fraud_ratio': {
      const cutoffMs = labelCutoffMs(feature, tx.eventTimeMs)
      const known = (summary.fraudBelow ??= new Map())
      let fraud = known.get(cutoffMs)
      if (fraud === undefined) known.set(cutoffMs, (fraud = knownFraudIn(aggregate, summary.startMs, endMs, cutoffMs)))
      return feature.aggregation === 'fraud_count' ? fraud : fraudRatio(fraud, count)
    }
  }
  // momentValueOf answered every other aggregation.
  throw new FraudstreamError(ErrorCode.internal, `lookup aggregation ${feature.aggregation} has no value`, 'internal')
}

/**
 * fraud / count, at most 1: labels are placed by their own transaction time and fields, so the fraud among them can
 * include transactions the count never saw (late ones, which enter no table, or ones never scored here).
 */
export function fraudRatio(fraud: number, count: number): number {
  return count > 0 ? Math.min(1, fraud / count) : 0
}

/** Transactions in [startMs, endMs) whose latest label reported before the cutoff says fraud. */
function knownFraudIn(aggregate: KeyAggregate, startMs: number, endMs: number, cutoffMs: number): number {
  if (aggregate.labels.size === 0) return 0
  const latest = new Map<string, LabelEntry>()
  for (const label of aggregate.labels.values()) {
    if (label[1] < startMs || label[1] >= endMs || label[2] >= cutoffMs) continue
    const known = latest.get(label[0])
    if (!known || label[2] > known[2] || (label[2] === known[2] && label[4] > known[4])) latest.set(label[0], label)
  }
  let fraud = 0
  for (const label of latest.values()) if (label[3]) fraud++
  return fraud
}
