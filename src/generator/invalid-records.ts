import type { Random } from './random.js'
import type { Customer } from './world.js'

export const InvalidKind = [
  'malformed',
  'missing_field',
  'wrong_type',
  'unknown_enum',
  'pan_in_card_id',
  'empty',
] as const
export type InvalidKind = (typeof InvalidKind)[number]

/**
 * A record that must land in the dead-letter topic, one kind of each mistake a producer makes. The draws (kind,
 * customer, id) come in a fixed order, so a seed gives the same stream.
 */
export function invalidRecord(
  random: Random,
  customers: readonly Customer[],
  nowMs: number,
): { kind: InvalidKind; customer: Customer; value: Buffer } {
  const kind = random.pick(InvalidKind)
  const customer = random.pick(customers)
  const base = {
    transaction_id: `bad_${random.hex()}${random.hex()}`,
    card_id: customer.cardId,
    customer_id: customer.customerId,
    merchant_id: 'mer_x',
    terminal_id: 'ter_x',
    amount: 12.5,
    currency: 'EUR',
    mcc: '5411',
    country: 'FR',
    card_country: 'FR',
    channel: 'pos',
    event_time: new Date(nowMs).toISOString(),
  }
  switch (kind) {
    case 'malformed':
      return { kind, customer, value: Buffer.from(`{"transaction_id": "${base.transaction_id}", "amount": 12.`) }
    case 'missing_field': {
      const { terminal_id: _dropped, ...rest } = base
      return { kind, customer, value: Buffer.from(JSON.stringify(rest)) }
    }
    case 'wrong_type':
      return { kind, customer, value: Buffer.from(JSON.stringify({ ...base, amount: '12.50' })) }
    case 'unknown_enum':
      return { kind, customer, value: Buffer.from(JSON.stringify({ ...base, channel: 'telepathy' })) }
    case 'pan_in_card_id':
      return { kind, customer, value: Buffer.from(JSON.stringify({ ...base, card_id: '4111111111111111' })) }
    case 'empty':
      return { kind, customer, value: Buffer.alloc(0) }
  }
}
