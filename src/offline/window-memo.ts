import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { LookupFeature } from '../stages/features/feature-definition.js'
import { fraudRatio, momentValueOf, type LabelEntry } from '../stages/lookups/key-aggregate.js'
import { labelCutoffMs } from '../stages/lookups/lookup-plan.js'
import { populationStddev, zscore } from '../stages/windows/window-math.js'
import { COUNT, DEV, type KeyHistory, LAST, MAX, MIN, REF, SQ, STRIDE, SUM } from './key-history.js'

/**
 * What a key's buckets in [startMs, endMs) add up to, kept with the key between reads: consecutive transactions of a
 * key mostly read the same window (it ends delayMs before them, on a resolution boundary), and nothing applied after
 * a read lands in a window already read (see RollingLookups). The spread, the fraud count at one label cutoff and the
 * distinct counts are worked out when a feature first asks.
 */
export interface WindowMemo {
  startMs: number
  endMs: number
  count: number
  sum: number
  min: number
  max: number
  lastMs: number
  spreadKnown: boolean
  reference: number
  deviations: number
  squaredDeviations: number
  fraudCutoffMs: number
  fraud: number
  /** Per distinct field of the key kind, the count (-1: not worked out). */
  distinct: number[] | undefined
}

export function emptyMemo(distinctFields: number): WindowMemo {
  return {
    startMs: 0,
    endMs: 0,
    count: 0,
    sum: 0,
    min: Infinity,
    max: -Infinity,
    lastMs: -Infinity,
    spreadKnown: true,
    reference: 0,
    deviations: 0,
    squaredDeviations: 0,
    fraudCutoffMs: NaN,
    fraud: 0,
    distinct: distinctFields > 0 ? new Array<number>(distinctFields).fill(0) : undefined,
  }
}

/** Aggregations that read no more of a window's buckets than their count (and labels or distinct values). */
export const COUNT_ONLY: ReadonlySet<LookupFeature['aggregation']> = new Set([
  'count',
  'fraud_count',
  'fraud_ratio',
  'distinct_count',
])

/**
 * The key's memo of window `window` over [startMs, endMs), worked out again when it was of another window; without
 * `moments`, only its count (the window's features read nothing else of it).
 */
export function memoOf(
  history: KeyHistory,
  window: number,
  startMs: number,
  endMs: number,
  moments: boolean,
): WindowMemo {
  const memos = (history.windows ??= [])
  let memo = memos[window]
  if (memo && memo.startMs === startMs && memo.endMs === endMs) return memo
  memo ??= memos[window] = emptyMemo(history.distinctFields)
  memo.startMs = startMs
  memo.endMs = endMs
  memo.spreadKnown = false
  memo.fraudCutoffMs = NaN
  if (memo.distinct) memo.distinct.fill(-1)
  // key-aggregate's summarize, the buckets in start order.
  let count = 0
  let sum = 0
  let min = Infinity
  let max = -Infinity
  let lastMs = -Infinity
  const stats = history.stats
  const to = slotsBefore(history, endMs)
  const from = history.firstSlotFrom(startMs, to)
  if (!moments) {
    memo.count = history.countIn(from, to)
    return memo
  }
  for (let slot = from; slot < to; slot++) {
    const at = slot * STRIDE
    count += stats[at + COUNT]!
    sum += stats[at + SUM]!
    if (stats[at + MIN]! < min) min = stats[at + MIN]!
    if (stats[at + MAX]! > max) max = stats[at + MAX]!
    if (stats[at + LAST]! > lastMs) lastMs = stats[at + LAST]!
  }
  memo.count = count
  memo.sum = sum
  memo.min = min
  memo.max = max
  memo.lastMs = lastMs
  return memo
}

/** The slot after the last bucket starting before `endMs`. */
function slotsBefore(history: KeyHistory, endMs: number): number {
  let to = history.head + history.size
  while (to > history.head && history.startOf(to - 1) >= endMs) to--
  return to
}

/** lookupValueOf (key-aggregate.ts) over a memo: the moments' cases shared (momentValueOf), the rest alike. */
export function valueOf(
  memo: WindowMemo,
  history: KeyHistory | undefined,
  feature: LookupFeature,
  field: number,
  amount: number,
  atMs: number,
): number {
  const moment = momentValueOf(memo, feature, amount)
  if (moment !== undefined) return moment
  const { count } = memo
  switch (feature.aggregation) {
    case 'stddev':
      if (!memo.spreadKnown) spreadOf(memo, history!)
      return populationStddev(count, memo.deviations, memo.squaredDeviations)
    case 'zscore':
      if (!memo.spreadKnown) spreadOf(memo, history!)
      return zscore(amount, count, memo.reference, memo.deviations, memo.squaredDeviations)
    case 'distinct_count': {
      if (!history) return 0
      const known = memo.distinct![field]!
      if (known >= 0) return known
      return (memo.distinct![field] = distinctIn(history, memo, field))
    }
    case 'fraud_count':
    case 'fraud_ratio': {
      const cutoffMs = labelCutoffMs(feature, atMs)
      if (memo.fraudCutoffMs !== cutoffMs) {
        memo.fraudCutoffMs = cutoffMs
        memo.fraud = history ? knownFraudIn(history, memo.startMs, memo.endMs, cutoffMs) : 0
      }
      return feature.aggregation === 'fraud_count' ? memo.fraud : fraudRatio(memo.fraud, count)
    }
  }
  // momentValueOf answered every other aggregation.
  throw new FraudstreamError(ErrorCode.internal, `lookup aggregation ${feature.aggregation} has no value`, 'internal')
}

/** key-aggregate's spreadOf: deviations from the earliest bucket's reference amount. */
function spreadOf(memo: WindowMemo, history: KeyHistory): void {
  const stats = history.stats
  const to = slotsBefore(history, memo.endMs)
  const from = history.firstSlotFrom(memo.startMs, to)
  const reference = from < to ? stats[from * STRIDE + REF]! : 0
  let deviations = 0
  let squaredDeviations = 0
  for (let slot = from; slot < to; slot++) {
    const at = slot * STRIDE
    const shift = stats[at + REF]! - reference
    deviations += stats[at + DEV]! + stats[at + COUNT]! * shift
    squaredDeviations += stats[at + SQ]! + 2 * shift * stats[at + DEV]! + stats[at + COUNT]! * shift * shift
  }
  memo.reference = reference
  memo.deviations = deviations
  memo.squaredDeviations = squaredDeviations
  memo.spreadKnown = true
}

function distinctIn(history: KeyHistory, memo: WindowMemo, field: number): number {
  const values = new Set<number>()
  const to = slotsBefore(history, memo.endMs)
  const from = history.firstSlotFrom(memo.startMs, to)
  for (let slot = from; slot < to; slot++)
    for (const value of history.distinct?.[slot]?.[field] ?? []) values.add(value)
  return values.size
}

/** key-aggregate's knownFraudIn: transactions in [startMs, endMs) whose latest label before the cutoff says fraud. */
function knownFraudIn(history: KeyHistory, startMs: number, endMs: number, cutoffMs: number): number {
  const labels = history.labels
  if (history.labelsInOrder && history.labelsUnique) {
    // Each transaction's only label, in time order: the window's labels are one run of them.
    const numbers = history.labelNumbers
    let fraud = 0
    for (let at = 0; at < numbers.length; at += 3) {
      const timeMs = numbers[at]!
      if (timeMs >= endMs) break
      if (timeMs >= startMs && numbers[at + 1]! < cutoffMs) fraud += numbers[at + 2]!
    }
    return fraud
  }
  let only: LabelEntry | undefined
  let latest: Map<string, LabelEntry> | undefined
  for (const label of labels) {
    if (label[1] < startMs || label[1] >= endMs || label[2] >= cutoffMs) continue
    // One label in the window needs no map (the usual case); a second one starts it.
    if (!only) {
      only = label
      continue
    }
    if (!latest) latest = new Map([[only[0], only]])
    const known = latest.get(label[0])
    if (!known || label[2] > known[2] || (label[2] === known[2] && label[4] > known[4])) latest.set(label[0], label)
  }
  if (!latest) return only?.[3] ? 1 : 0
  let fraud = 0
  for (const label of latest.values()) if (label[3]) fraud++
  return fraud
}
