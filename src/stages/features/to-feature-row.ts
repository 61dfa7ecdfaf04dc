import type { Transaction } from '../../core/transaction-v1.js'
import type { CardWindows } from '../windows/card-windows.js'
import { groupIdOf, utcHour, windowGroupsOf } from '../windows/window-groups.js'
import { eventLayoutOf, GroupScan, scanGroups, type EventLayout } from '../windows/window-scan.js'
import type { DerivedField, FeatureDefinition } from './feature-definition.js'

const DAY_MS = 86_400_000
/** 1970-01-01 was a Thursday: day index 0 = Thursday, so Saturday and Sunday are 2 and 3. */
const SATURDAY = 2
const SUNDAY = 3

/** Each derived field's one implementation (the oracle uses it too). */
export const DERIVE: Record<DerivedField, (tx: Transaction) => number> = {
  amount: (tx) => tx.amount,
  log1p_amount: (tx) => Math.log1p(tx.amount),
  is_night: (tx) => {
    const hour = utcHour(tx.eventTimeMs)
    return hour >= 22 || hour < 6 ? 1 : 0
  },
  is_abroad: (tx) => (tx.country !== tx.card_country ? 1 : 0),
  is_card_not_present: (tx) => (tx.channel === 'ecom' || tx.channel === 'moto' ? 1 : 0),
  is_zero_amount: (tx) => (tx.amount === 0 ? 1 : 0),
  hour_of_day: (tx) => utcHour(tx.eventTimeMs),
  is_weekend: (tx) => {
    const day = (((Math.floor(tx.eventTimeMs / DAY_MS) % 7) + 7) % 7)
    return day === SATURDAY || day === SUNDAY ? 1 : 0
  },
}

export type FeatureRowFn = (tx: Transaction, windows: CardWindows, values: Float64Array) => Float32Array

/**
 * Transaction + the partition's card log (before this transaction is added) + the transaction's event values
 * (layout.fill) → one row in the feature-contract order. A window without delay whose filter the transaction passes
 * includes it (count + 1, sum + amount, …), so training and serving agree. Rows are float32 because that is what the
 * model reads; the scores table stores these same rounded values.
 */
export function toFeatureRow(definitions: readonly FeatureDefinition[]): { readonly layout: EventLayout; readonly row: FeatureRowFn } {
  const groups = windowGroupsOf(definitions)
  const layout = eventLayoutOf(groups)
  const views = new Map<string, GroupScan>(groups.map((group) => [group.id, new GroupScan(group, layout)]))
  const scans = [...views.values()]
  const columns = definitions.map((definition): ((tx: Transaction) => number) => {
    if (definition.kind === 'derived') return DERIVE[definition.field]
    // Lookups read tables outside the partition: fillLookups writes them once the table is complete enough.
    if (definition.kind === 'lookup') return () => NaN
    const view = views.get(groupIdOf(definition))!
    const s = view.group.spans.indexOf(definition.spanMs)
    const { spanMs } = definition
    // The stats include the current transaction where the window does (GroupScan.finish).
    const { counts, sums, sumSquares, mins, maxs } = view.stats
    const count = () => counts[s]!
    const sum = () => sums[s]!
    const mean = () => {
      const n = counts[s]!
      return n > 0 ? sums[s]! / n : 0
    }
    const stddev = () => populationStddev(counts[s]!, sums[s]!, sumSquares[s]!)
    switch (definition.aggregation) {
      case 'count':
        return count
      case 'sum':
        return sum
      case 'mean':
        return mean
      case 'min':
        return () => (Number.isFinite(mins[s]!) ? mins[s]! : 0)
      case 'max':
        return () => (Number.isFinite(maxs[s]!) ? maxs[s]! : 0)
      case 'stddev':
        return stddev
      case 'zscore':
        return (tx) => {
          const sd = stddev()
          return sd > 0 ? (tx.amount - mean()) / sd : 0
        }
      case 'amount_over_mean':
        return (tx) => {
          const m = mean()
          return m > 0 ? tx.amount / m : 1
        }
      case 'seconds_since_last':
        return (tx) => {
          const previousMs = view.previousMs
          return (previousMs === undefined ? spanMs : Math.min(spanMs, tx.eventTimeMs - view.group.delayMs - previousMs)) / 1000
        }
      case 'distinct_count':
        return () => view.distinct[s]!
    }
  })
  const row: FeatureRowFn = (tx, windows, values) => {
    if (scans.length > 0) scanGroups(windows.history(tx.card_id), windows.stride, tx, values, scans)
    const out = new Float32Array(columns.length)
    for (let i = 0; i < columns.length; i++) out[i] = columns[i]!(tx)
    return out
  }
  return { layout, row }
}

/**
 * sqrt(E[x²] − E[x]²), with variances below 1e-9 · max(1, mean²) taken as 0: equal amounts leave a rounding
 * residue there, and a z-score divided by that residue would be astronomically large instead of 0.
 */
export function populationStddev(n: number, sum: number, sumSquares: number): number {
  if (n === 0) return 0
  const mean = sum / n
  const variance = sumSquares / n - mean * mean
  return variance <= 1e-9 * Math.max(1, mean * mean) ? 0 : Math.sqrt(variance)
}
