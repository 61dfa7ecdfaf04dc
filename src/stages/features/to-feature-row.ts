import type { Transaction } from '../../core/transaction-v1.js'
import type { CardWindows } from '../windows/card-windows.js'
import type { DerivedField, FeatureDefinition } from './feature-definition.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const NIGHT_START_HOUR = 22
const NIGHT_END_HOUR = 6

const derive: Record<DerivedField, (tx: Transaction) => number> = {
  amount: (tx) => tx.amount,
  log1p_amount: (tx) => Math.log1p(tx.amount),
  is_night: (tx) => {
    const hour = Math.floor((((tx.eventTimeMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS)
    return hour >= NIGHT_START_HOUR || hour < NIGHT_END_HOUR ? 1 : 0
  },
  is_abroad: (tx) => (tx.country !== tx.card_country ? 1 : 0),
  is_card_not_present: (tx) => (tx.channel === 'ecom' || tx.channel === 'moto' ? 1 : 0),
  is_zero_amount: (tx) => (tx.amount === 0 ? 1 : 0),
}

/** What one scan of the card's windows gives every window column: aggregates per span and the previous event. */
interface WindowView {
  readonly counts: Float64Array
  readonly sums: Float64Array
  previousMs: number | undefined
}

export type FeatureRowFn = (tx: Transaction, windows: CardWindows) => Float32Array

/**
 * Transaction + the card's windows (before this transaction is added) → one row in the feature-contract order.
 * Windows include the current transaction: count + 1, sum + amount. Rows are float32 because that is what the
 * model reads; the scores table stores these same rounded values, so a model trained from ClickHouse sees exactly
 * what serving saw.
 */
export function toFeatureRow(definitions: readonly FeatureDefinition[]): FeatureRowFn {
  const spans = [...new Set(definitions.flatMap((d) => (d.kind === 'window' ? [d.spanMs] : [])))].sort((a, b) => a - b)
  const view: WindowView = { counts: new Float64Array(spans.length), sums: new Float64Array(spans.length), previousMs: undefined }
  const columns = definitions.map((definition): ((tx: Transaction) => number) => {
    if (definition.kind === 'derived') return derive[definition.field]
    const { spanMs, aggregation } = definition
    const s = spans.indexOf(spanMs)
    switch (aggregation) {
      case 'count':
        return () => view.counts[s]! + 1
      case 'sum':
        return (tx) => view.sums[s]! + tx.amount
      case 'mean':
        return (tx) => (view.sums[s]! + tx.amount) / (view.counts[s]! + 1)
      case 'amount_over_mean':
        return (tx) => {
          const mean = (view.sums[s]! + tx.amount) / (view.counts[s]! + 1)
          return mean > 0 ? tx.amount / mean : 1
        }
      case 'seconds_since_last':
        return (tx) => {
          const previousMs = view.previousMs
          return (previousMs === undefined ? spanMs : Math.min(spanMs, tx.eventTimeMs - previousMs)) / 1000
        }
    }
  })
  return (tx, windows) => {
    view.previousMs = windows.scan(tx.card_id, tx.eventTimeMs, spans, view.counts, view.sums)
    const row = new Float32Array(columns.length)
    for (let i = 0; i < columns.length; i++) row[i] = columns[i]!(tx)
    return row
  }
}
