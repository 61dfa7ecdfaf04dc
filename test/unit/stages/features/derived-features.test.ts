import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Transaction } from '../../../../src/core/transaction-v1.js'
import { deriveOf } from '../../../../src/stages/features/derived-features.js'
import {
  featureContractHash,
  type DerivedFeature,
  type FeatureDefinition,
} from '../../../../src/stages/features/feature-definition.js'

const at = (hour: number, minute = 0) => Date.UTC(2026, 0, 5, hour, minute)
const tx = (fields: Partial<Transaction>): Transaction =>
  ({
    amount: 10,
    country: 'NL',
    card_country: 'NL',
    mcc: '5411',
    channel: 'pos',
    eventTimeMs: at(12),
    ...fields,
  }) as Transaction
const derived = (fields: Record<string, unknown>): DerivedFeature =>
  ({ kind: 'derived', name: 'f', description: '', ...fields }) as DerivedFeature

test('hour_in: [from, to) in UTC, wrapping past midnight when from > to', () => {
  const night = deriveOf(derived({ field: 'hour_in', from: 22, to: 6 }))
  const office = deriveOf(derived({ field: 'hour_in', from: 9, to: 17 }))
  const evening = deriveOf(derived({ field: 'hour_in', from: 18, to: 24 }))
  const cases: [number, number, number, number][] = [
    // hour, night, office, evening
    [21, 0, 0, 1],
    [22, 1, 0, 1],
    [0, 1, 0, 0],
    [5, 1, 0, 0],
    [6, 0, 0, 0],
    [9, 0, 1, 0],
    [16, 0, 1, 0],
    [17, 0, 0, 0],
    [23, 1, 0, 1],
  ]
  for (const [hour, n, o, e] of cases) {
    const t = tx({ eventTimeMs: at(hour, 59) })
    assert.deepEqual([night(t), office(t), evening(t)], [n, o, e], `${hour}:59`)
  }
})

test('amount_at_least and value_in, an optional field absent counting as no match', () => {
  const big = deriveOf(derived({ field: 'amount_at_least', value: 1_000 }))
  assert.deepEqual([big(tx({ amount: 999.99 })), big(tx({ amount: 1_000 }))], [0, 1])
  const risky = deriveOf(derived({ field: 'value_in', of: 'mcc', values: ['7995', '6051'] }))
  assert.deepEqual([risky(tx({ mcc: '7995' })), risky(tx({ mcc: '5411' }))], [1, 0])
  const manual = deriveOf(derived({ field: 'value_in', of: 'entry_mode', values: ['manual'] }))
  assert.deepEqual([manual(tx({ entry_mode: 'manual' })), manual(tx({}))], [1, 0])
})

test('bad parameters fail at start with the feature name; parameters are part of the feature contract', () => {
  assert.throws(() => deriveOf(derived({ field: 'hour_in', from: 6, to: 6 })), /derived feature f: from 6 to 6/)
  assert.throws(() => deriveOf(derived({ field: 'hour_in', from: 24, to: 6 })), /whole hour 0–23/)
  assert.throws(() => deriveOf(derived({ field: 'value_in', of: 'city' as never, values: ['x'] })), /of "city"/)
  assert.throws(() => deriveOf(derived({ field: 'value_in', of: 'mcc', values: [] })), /non-empty/)
  assert.throws(() => deriveOf(derived({ field: 'is_nite' as never })), { code: 'FS_ERR_CONFIG_INVALID' })
  const hash = (f: FeatureDefinition) => featureContractHash([f])
  const night = derived({ field: 'hour_in', from: 22, to: 6 })
  assert.notEqual(hash(night), hash(derived({ field: 'hour_in', from: 23, to: 6 })))
  assert.equal(
    hash(derived({ field: 'value_in', of: 'mcc', values: ['a', 'b'] })),
    hash(derived({ field: 'value_in', of: 'mcc', values: ['b', 'a'] })),
    'a list is a set',
  )
})
