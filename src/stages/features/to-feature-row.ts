import type { Transaction } from '../../core/transaction-v1.js'
import type { CardWindows } from '../windows/card-windows.js'
import type { DerivedField, FeatureDefinition } from './feature-definition.js'

const NIGHT_START_HOUR = 22
const NIGHT_END_HOUR = 6

const derive: Record<DerivedField, (tx: Transaction) => number> = {
  amount: (tx) => tx.amount,
  log1p_amount: (tx) => Math.log1p(tx.amount),
  is_night: (tx) => {
    const hour = new Date(tx.eventTimeMs).getUTCHours()
    return hour >= NIGHT_START_HOUR || hour < NIGHT_END_HOUR ? 1 : 0
  },
  is_abroad: (tx) => (tx.country !== tx.card_country ? 1 : 0),
  is_card_not_present: (tx) => (tx.channel === 'ecom' || tx.channel === 'moto' ? 1 : 0),
  is_zero_amount: (tx) => (tx.amount === 0 ? 1 : 0),
}

export type FeatureRowFn = (tx: Transaction, windows: CardWindows) => Float32Array

/**
 * Transaction + the card's windows (before this transaction is added) → one row in the feature-contract order.
 * Rows are float32 because that is what the model reads; the scores table stores these same rounded values, so a
 * model trained from ClickHouse sees exactly what serving saw.
 */
export function toFeatureRow(definitions: readonly FeatureDefinition[]): FeatureRowFn {
  const columns = definitions.map((definition) => {
    if (definition.kind === 'derived') return derive[definition.field]
    const { spanMs, aggregation } = definition
    switch (aggregation) {
      case 'count':
        return (tx: Transaction, w: CardWindows) => w.aggregate(tx.card_id, tx.eventTimeMs, spanMs).count + 1
      case 'sum':
        return (tx: Transaction, w: CardWindows) => w.aggregate(tx.card_id, tx.eventTimeMs, spanMs).sum + tx.amount
      case 'mean':
        return (tx: Transaction, w: CardWindows) => {
          const { count, sum } = w.aggregate(tx.card_id, tx.eventTimeMs, spanMs)
          return (sum + tx.amount) / (count + 1)
        }
      case 'amount_over_mean':
        return (tx: Transaction, w: CardWindows) => {
          const { count, sum } = w.aggregate(tx.card_id, tx.eventTimeMs, spanMs)
          const mean = (sum + tx.amount) / (count + 1)
          return mean > 0 ? tx.amount / mean : 1
        }
      case 'seconds_since_last':
        return (tx: Transaction, w: CardWindows) => {
          const previousMs = w.previousEventTimeMs(tx.card_id, tx.eventTimeMs)
          const gapMs = previousMs === undefined ? spanMs : Math.min(spanMs, tx.eventTimeMs - previousMs)
          return gapMs / 1000
        }
    }
  })
  return (tx, windows) => {
    const row = new Float32Array(columns.length)
    for (let i = 0; i < columns.length; i++) row[i] = columns[i]!(tx, windows)
    return row
  }
}
