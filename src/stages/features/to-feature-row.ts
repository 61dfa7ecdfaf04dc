import type { Transaction } from '../../core/transaction-v1.js'
import type { CardWindows } from '../windows/card-windows.js'
import { groupIdOf, utcHour, windowGroupsOf } from '../windows/window-groups.js'
import { eventLayoutOf, GroupScan, scanGroups, type EventLayout } from '../windows/window-scan.js'
import type { DerivedField, FeatureDefinition, WindowAggregation } from './feature-definition.js'

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
export function toFeatureRow(definitions: readonly FeatureDefinition[]): { readonly layout: EventLayout; readonly row: FeatureRowFn; readonly horizonMs: number } {
  const groups = windowGroupsOf(definitions)
  const layout = eventLayoutOf(groups)
  const views = new Map<string, GroupScan>(groups.map((group) => [group.id, new GroupScan(group, layout)]))
  const scans = [...views.values()]
  // One plain record per column, read in one switch: a call per column through 27 different closures is a
  // megamorphic call site, and was a fifth of the cost of a row.
  const columns: Column[] = definitions.map((definition): Column => {
    if (definition.kind === 'derived') return { op: 'derived', derive: DERIVE[definition.field], view: undefined, slot: 0, spanMs: 0 }
    // Lookups read tables outside the partition: fillLookups writes them once the table is complete enough.
    if (definition.kind === 'lookup') return { op: 'lookup', derive: undefined, view: undefined, slot: 0, spanMs: 0 }
    const view = views.get(groupIdOf(definition))!
    return { op: definition.aggregation, derive: undefined, view, slot: view.group.spans.indexOf(definition.spanMs), spanMs: definition.spanMs }
  })
  const row: FeatureRowFn = (tx, windows, values) => {
    if (scans.length > 0) scanGroups(windows.history(tx.card_id), windows.stride, tx, values, scans)
    const out = new Float32Array(columns.length)
    for (let i = 0; i < columns.length; i++) out[i] = columnValue(columns[i]!, tx)
    return out
  }
  // The history the card log must keep: the longest span + delay of any group.
  const horizonMs = groups.reduce((longest, group) => Math.max(longest, group.horizonMs), 0)
  return { layout, row, horizonMs }
}

interface Column {
  readonly op: WindowAggregation | 'derived' | 'lookup'
  readonly derive: ((tx: Transaction) => number) | undefined
  readonly view: GroupScan | undefined
  readonly slot: number
  readonly spanMs: number
}

/** A window column's value; the view's stats already include the current transaction where the window does. */
function columnValue(column: Column, tx: Transaction): number {
  const { view, slot } = column
  if (!view) return column.op === 'derived' ? column.derive!(tx) : NaN
  const { counts, sums, sumSquares, mins, maxs } = view.stats
  switch (column.op) {
    case 'count':
      return counts[slot]!
    case 'sum':
      return sums[slot]!
    case 'mean':
      return counts[slot]! > 0 ? sums[slot]! / counts[slot]! : 0
    case 'min':
      return Number.isFinite(mins[slot]!) ? mins[slot]! : 0
    case 'max':
      return Number.isFinite(maxs[slot]!) ? maxs[slot]! : 0
    case 'stddev':
      return populationStddev(counts[slot]!, sums[slot]!, sumSquares[slot]!)
    case 'zscore': {
      const sd = populationStddev(counts[slot]!, sums[slot]!, sumSquares[slot]!)
      return sd > 0 ? (tx.amount - sums[slot]! / counts[slot]!) / sd : 0
    }
    case 'amount_over_mean': {
      const mean = counts[slot]! > 0 ? sums[slot]! / counts[slot]! : 0
      return mean > 0 ? tx.amount / mean : 1
    }
    case 'seconds_since_last': {
      const previousMs = view.previousMs
      return (previousMs === undefined ? column.spanMs : Math.min(column.spanMs, tx.eventTimeMs - view.group.delayMs - previousMs)) / 1000
    }
    case 'distinct_count':
      return view.distinct[slot]!
    default:
      throw new Error(`column op ${column.op} has no window value`)
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
