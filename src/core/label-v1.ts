import { z } from 'zod'
import { isId, isTimeValue } from './transaction-v1.js'

const id = z.string().min(1).max(64)
const time = z.union([z.iso.datetime({ offset: true }), z.number().int().min(0).max(8.64e15)])

/**
 * Label v1, the contract of the `labels` topic (key = transaction_id; DESIGN.md §3); the latest label per
 * transaction wins. The optional fields are the original transaction's, which fraud reports and chargebacks carry
 * (TC40/SAFE, dispute records): terminal, merchant, customer and device risk features use labels that have them;
 * others only reach the scores views.
 */
export const LabelV1Schema = z.object({
  transaction_id: id,
  card_id: id.optional(),
  is_fraud: z.boolean(),
  source: z.enum(['chargeback', 'analyst', 'customer']),
  reported_at: time,
  transaction_time: time.optional(),
  terminal_id: id.optional(),
  merchant_id: id.optional(),
  customer_id: id.optional(),
  device_id: z.string().min(1).max(128).optional(),
})
export type LabelV1 = z.infer<typeof LabelV1Schema>

export interface Label extends LabelV1 {
  readonly reportedAtMs: number
  readonly transactionTimeMs: number | undefined
}

const SOURCES: ReadonlySet<unknown> = new Set(LabelV1Schema.shape.source.options)
const LABEL_KEYS = Object.keys(LabelV1Schema.shape) as (keyof LabelV1)[]

/**
 * LabelV1Schema's result for a record that passes every check of the schema as written, without going through zod
 * (a parse through it costs several times the JSON.parse before it, and `features` reads every label of a file
 * before its first row); undefined for anything else, which the schema then decides (and describes). As
 * knownValidTransaction: the same checks, and the schema's keys in its order with unknown ones stripped.
 */
export function knownValidLabel(value: Readonly<Record<string, unknown>>): LabelV1 | undefined {
  if (!isId(value['transaction_id']) || typeof value['is_fraud'] !== 'boolean') return undefined
  if (!SOURCES.has(value['source']) || !isTimeValue(value['reported_at'])) return undefined
  const { card_id, transaction_time, terminal_id, merchant_id, customer_id, device_id } = value
  if (card_id !== undefined && !isId(card_id)) return undefined
  if (transaction_time !== undefined && !isTimeValue(transaction_time)) return undefined
  if (terminal_id !== undefined && !isId(terminal_id)) return undefined
  if (merchant_id !== undefined && !isId(merchant_id)) return undefined
  if (customer_id !== undefined && !isId(customer_id)) return undefined
  if (device_id !== undefined && !isId(device_id, 128)) return undefined
  const result: Record<string, unknown> = {}
  for (const key of LABEL_KEYS) if (value[key] !== undefined) result[key] = value[key]
  return result as LabelV1
}
