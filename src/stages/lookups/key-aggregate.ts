import type { LookupFeature } from '../features/feature-definition.js'
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
  applied: Record<string, number>
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

/** A lookup feature's value at event time t; see LookupFeature for the semantics. */
export function lookupValue(aggregate: KeyAggregate, feature: LookupFeature, eventTimeMs: number): number {
  const endMs = windowEndMs(feature, eventTimeMs)
  const startMs = endMs - feature.spanMs
  let count = 0
  let sum = 0
  // Stored buckets nest inside the feature's (its resolution is a multiple of the stored one).
  for (const [start, bucket] of aggregate.buckets) {
    if (start < startMs || start >= endMs) continue
    count += bucket.count
    sum += bucket.sum
  }
  if (feature.aggregation === 'count') return count
  if (feature.aggregation === 'sum') return sum
  const fraud = knownFraudIn(aggregate, startMs, endMs, labelCutoffMs(feature, eventTimeMs))
  if (feature.aggregation === 'fraud_count') return fraud
  return fraudRatio(fraud, count)
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
