import type { Transaction } from '../../core/transaction-v1.js'
import type { CardWindows } from '../windows/card-windows.js'
import { createWindowStats, type WindowStats } from '../windows/card-windows.js'
import { groupIdOf, passesFilter, storedValueOf, utcHour, windowGroupsOf, windowKeyOf, type WindowGroup } from '../windows/window-groups.js'
import type { DerivedField, FeatureDefinition } from './feature-definition.js'

const DAY_MS = 86_400_000
/** 1970-01-01 was a Thursday: day index 0 = Thursday, so Saturday and Sunday are 2 and 3. */
const SATURDAY = 2
const SUNDAY = 3

const derive: Record<DerivedField, (tx: Transaction) => number> = {
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

/** One group's scan for the current transaction, and whether the transaction itself belongs in its windows. */
interface GroupView {
  readonly group: WindowGroup
  readonly stats: WindowStats
  /** distinct_count groups: distinct values per span. */
  readonly distinct: Float64Array
  previousMs: number | undefined
  includesCurrent: boolean
}

export type FeatureRowFn = (tx: Transaction, windows: ReadonlyMap<string, CardWindows>) => Float32Array

/**
 * Transaction + the partition's window stores (before this transaction is added) → one row in the feature-contract
 * order. A window without delay whose filter the transaction passes includes it (count + 1, sum + amount, …), so
 * training and serving agree. Rows are float32 because that is what the model reads; the scores table stores these
 * same rounded values.
 */
export function toFeatureRow(definitions: readonly FeatureDefinition[]): FeatureRowFn {
  // The primary group exists even without features (it decides lateness); a group no feature reads needs no scan.
  const groups = windowGroupsOf(definitions).filter((group) => group.spans.length > 0)
  const views = new Map<string, GroupView>(groups.map((group) => [group.id, { group, stats: createWindowStats(group.spans.length), distinct: new Float64Array(group.spans.length), previousMs: undefined, includesCurrent: false }]))
  const columns = definitions.map((definition): ((tx: Transaction) => number) => {
    if (definition.kind === 'derived') return derive[definition.field]
    // Lookups read tables outside the partition: fillLookups writes them once the table is complete enough.
    if (definition.kind === 'lookup') return () => NaN
    const view = views.get(groupIdOf(definition))!
    const s = view.group.spans.indexOf(definition.spanMs)
    const { spanMs } = definition
    const count = () => view.stats.counts[s]! + (view.includesCurrent ? 1 : 0)
    const sum = (tx: Transaction) => view.stats.sums[s]! + (view.includesCurrent ? tx.amount : 0)
    const mean = (tx: Transaction) => {
      const n = count()
      return n > 0 ? sum(tx) / n : 0
    }
    const stddev = (tx: Transaction) => {
      const n = count()
      if (n === 0) return 0
      const squares = view.stats.sumSquares[s]! + (view.includesCurrent ? tx.amount * tx.amount : 0)
      return populationStddev(n, sum(tx), squares)
    }
    switch (definition.aggregation) {
      case 'count':
        return count
      case 'sum':
        return sum
      case 'mean':
        return mean
      case 'min':
        return (tx) => {
          const m = Math.min(view.stats.mins[s]!, view.includesCurrent ? tx.amount : Infinity)
          return Number.isFinite(m) ? m : 0
        }
      case 'max':
        return (tx) => {
          const m = Math.max(view.stats.maxs[s]!, view.includesCurrent ? tx.amount : -Infinity)
          return Number.isFinite(m) ? m : 0
        }
      case 'stddev':
        return stddev
      case 'zscore':
        return (tx) => {
          const sd = stddev(tx)
          return sd > 0 ? (tx.amount - mean(tx)) / sd : 0
        }
      case 'amount_over_mean':
        return (tx) => {
          const m = mean(tx)
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
  return (tx, windows) => {
    for (const view of views.values()) {
      const { group } = view
      const current = storedValueOf(group.field, tx)
      view.includesCurrent = group.delayMs === 0 && passesFilter(group.filter, tx) && current !== undefined
      const store = windows.get(group.storeId)
      if (!store) throw new Error(`no window store ${group.storeId} for group ${group.id}`)
      const key = windowKeyOf(group.key, tx)
      const atMs = tx.eventTimeMs - group.delayMs
      if (group.field) store.scanDistinct(key, atMs, group.spans, view.distinct, view.includesCurrent ? current : undefined)
      else view.previousMs = store.scan(key, atMs, group.spans, view.stats)
    }
    const row = new Float32Array(columns.length)
    for (let i = 0; i < columns.length; i++) row[i] = columns[i]!(tx)
    return row
  }
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
