import assert from 'node:assert/strict'
import { test } from 'node:test'
import { knownValidTransaction, TransactionV1Schema } from '../../../src/core/transaction-v1.js'

const valid = {
  transaction_id: 'tx_1',
  card_id: 'card_a57f9f4443723ee8',
  customer_id: 'cus_1',
  merchant_id: 'mer_1',
  terminal_id: 'ter_1',
  amount: 25.63,
  currency: 'GBP',
  mcc: '5411',
  country: 'GB',
  card_country: 'GB',
  channel: 'pos',
  entry_mode: 'chip',
  event_time: '2026-01-05T00:00:22.124Z',
}

/** Changes to the valid record: some keep it valid, most do not; the schema is the judge of each. */
const variants: Record<string, unknown>[] = [
  {},
  { extra: 'stripped', nested: { a: 1 } },
  { entry_mode: undefined },
  { device_id: 'dev_1', ip: '10.0.0.1' },
  { device_id: 'd'.repeat(128) },
  { device_id: 'd'.repeat(129) },
  { device_id: '' },
  { device_id: null },
  { ip: 'i'.repeat(65) },
  { entry_mode: null },
  { entry_mode: 'telepathy' },
  { channel: 'ecom' },
  { channel: 'shop' },
  { transaction_id: '' },
  { transaction_id: 't'.repeat(64) },
  { transaction_id: 't'.repeat(65) },
  { transaction_id: 12 },
  { card_id: '4111 1111 1111 1111' },
  { card_id: '4111-1111-1111-1112' },
  { card_id: '4111111111111111' },
  { card_id: '4111\u00a01111\u00a01111\u00a01111' },
  { card_id: '4111\t1111\n1111\r1111' },
  { card_id: '41111111111111111111' },
  { card_id: '4111 1111 1111 1111 x' },
  { customer_id: undefined },
  { merchant_id: null },
  { terminal_id: ['ter'] },
  { amount: 0 },
  { amount: -0 },
  { amount: -0.01 },
  { amount: 1e9 },
  { amount: 1e9 + 1 },
  { amount: '25.63' },
  { amount: Number.NaN },
  { amount: Infinity },
  { currency: 'XXX' },
  { currency: 'gbp' },
  { currency: 'ABC' },
  { mcc: '541' },
  { mcc: '54111' },
  { mcc: 5411 },
  { country: 'ZZ' },
  { country: 'gb' },
  { card_country: 'XK' },
  { card_country: 'QQ' },
  { event_time: '2026-01-05T00:00:22Z' },
  { event_time: '2026-01-05T00:00:22.124+01:00' },
  { event_time: '2026-02-29T00:00:22Z' },
  { event_time: '2024-02-29T00:00:22Z' },
  { event_time: '2026-13-05T00:00:22Z' },
  { event_time: '2026-01-05 00:00:22Z' },
  { event_time: '2026-01-05T00:00:22' },
  { event_time: 1767571222124 },
  { event_time: 0 },
  { event_time: -1 },
  { event_time: 8.64e15 },
  { event_time: 8.64e15 + 2 },
  { event_time: 1.5 },
  { event_time: null },
]

test('knownValidTransaction returns what the schema returns, keys in order, or leaves the record to the schema', () => {
  let known = 0
  for (const variant of variants) {
    const record: Record<string, unknown> = { ...valid, ...variant }
    for (const [key, value] of Object.entries(variant)) if (value === undefined) delete record[key]
    const schema = TransactionV1Schema.safeParse(record)
    const fast = knownValidTransaction(record)
    const name = JSON.stringify(variant)
    if (!schema.success) {
      assert.equal(fast, undefined, `${name}: the schema rejects it`)
      continue
    }
    // Every valid variant here is one the fast check knows: undefined would only cost time, but would hide a slip.
    assert.notEqual(fast, undefined, `${name}: valid, and simple enough to be known`)
    assert.deepEqual(fast, schema.data, name)
    assert.deepEqual(Object.keys(fast!), Object.keys(schema.data), `${name}: keys in the schema's order`)
    known++
  }
  assert.ok(known >= 15, `${known} valid variants`)
})
