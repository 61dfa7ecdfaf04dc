import type { TransactionAttributes } from '../../core/ports.js'
import type { RoutableLabel } from './lookup-facts.js'
import type { LookupKey } from '../features/feature-definition.js'
import { LOOKUP_KEY_FIELD, type LookupPlan } from './lookup-plan.js'

/** Key kinds whose field a transaction may lack (device_id is optional): a label without it may be complete. */
const OPTIONAL_KEYS: ReadonlySet<LookupKey> = new Set(['device'])

/**
 * Whether a label lacks something its lookup facts need: its transaction's time, or the id of a key kind some
 * feature reads and every transaction has. Label v1 promises only `transaction_id`, `is_fraud`, `source` and
 * `reported_at` (an analyst's verdict, a bank's chargeback file): the rest comes from the transaction as
 * fraudstream saw it. A label with the time and the required ids but no device_id is taken as it is: its
 * transaction may have had none.
 */
export function needsAttribution(plan: LookupPlan, label: RoutableLabel): boolean {
  if (label.transactionTimeMs === undefined) return true
  for (const kind of plan.keys) if (!OPTIONAL_KEYS.has(kind) && label[LOOKUP_KEY_FIELD[kind]] === undefined) return true
  return false
}

/**
 * The label completed from its transaction's attributes. Its own fields win: they describe the same transaction,
 * and a field the store does not hold (scores has no device_id) stays as the label gave it.
 */
export function withAttributes(label: RoutableLabel, attributes: TransactionAttributes): RoutableLabel {
  return {
    transaction_id: label.transaction_id,
    is_fraud: label.is_fraud,
    reportedAtMs: label.reportedAtMs,
    transactionTimeMs: label.transactionTimeMs ?? attributes.transactionTimeMs,
    terminal_id: label.terminal_id ?? attributes.terminal_id,
    merchant_id: label.merchant_id ?? attributes.merchant_id,
    customer_id: label.customer_id ?? attributes.customer_id,
    device_id: label.device_id ?? attributes.device_id,
  }
}

/** What `lookups` and the tables need of a transaction to attribute its labels later. */
export function attributesOf(tx: {
  readonly terminal_id: string
  readonly merchant_id: string
  readonly customer_id: string
  readonly device_id?: string | undefined
  readonly eventTimeMs: number
}): TransactionAttributes {
  return {
    terminal_id: tx.terminal_id,
    merchant_id: tx.merchant_id,
    customer_id: tx.customer_id,
    ...(tx.device_id === undefined ? {} : { device_id: tx.device_id }),
    transactionTimeMs: tx.eventTimeMs,
  }
}
