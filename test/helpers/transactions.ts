import type { Transaction } from '../../src/core/transaction-v1.js'

/**
 * A decoded transaction at `eventTimeMs`: card `c` of customer `u` paying 10 EUR at merchant `m1`, terminal `t1`, in a
 * French shop (mcc 5411, pos), unless `fields` says otherwise.
 */
export function decodedTransaction(eventTimeMs: number, fields: Partial<Transaction> = {}): Transaction {
  return {
    transaction_id: 'tx',
    card_id: 'c',
    customer_id: 'u',
    merchant_id: 'm1',
    terminal_id: 't1',
    amount: 10,
    currency: 'EUR',
    mcc: '5411',
    country: 'FR',
    card_country: 'FR',
    channel: 'pos',
    event_time: eventTimeMs,
    eventTimeMs,
    ...fields,
  }
}
