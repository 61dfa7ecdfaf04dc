import assert from 'node:assert/strict'
import { test } from 'node:test'
import { knownValidLabel, LabelV1Schema } from '../../../src/core/label-v1.js'
import { assertKnownValid } from '../../helpers/known-valid.js'

const valid = {
  transaction_id: 'tx_1',
  is_fraud: true,
  source: 'chargeback',
  reported_at: '2026-01-20T10:00:00.000Z',
}

/** Each a change to the valid label (undefined removes the key): valid ones, and each check failed once. */
const variants: Record<string, unknown>[] = [
  {},
  { extra: 'stripped' },
  { is_fraud: false },
  { source: 'analyst' },
  { source: 'customer' },
  { source: 'bank' },
  { source: undefined },
  { is_fraud: 'true' },
  { is_fraud: undefined },
  { transaction_id: '' },
  { transaction_id: 'x'.repeat(64) },
  { transaction_id: 'x'.repeat(65) },
  { transaction_id: 7 },
  { reported_at: 1768903200000 },
  { reported_at: 1.5 },
  { reported_at: -1 },
  { reported_at: '2026-01-20 10:00:00Z' },
  { reported_at: '2026-01-20T10:00:00+02:00' },
  { reported_at: undefined },
  { transaction_time: '2026-01-05T00:00:22Z' },
  { transaction_time: 1767571222124 },
  { transaction_time: '2026-02-30T00:00:22Z' },
  { card_id: 'card_1', terminal_id: 'ter_1', merchant_id: 'mer_1', customer_id: 'cus_1' },
  { card_id: '' },
  { terminal_id: 'x'.repeat(65) },
  { merchant_id: 3 },
  { customer_id: null },
  { device_id: 'd'.repeat(128) },
  { device_id: 'd'.repeat(129) },
  { device_id: 'dev_1', transaction_time: 1767571222124, extra: 1, card_id: 'card_9' },
]

test('knownValidLabel returns what the schema returns, keys in order, or leaves the record to the schema', () => {
  const known = assertKnownValid(LabelV1Schema, knownValidLabel, valid, variants)
  assert.ok(known >= 12, `${known} valid variants`)
})
