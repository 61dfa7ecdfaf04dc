import { z } from 'zod'

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
