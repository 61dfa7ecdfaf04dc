import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createDecider } from '../../../../src/stages/decide/decide.js'
import { cardFraudFeatures } from '../../../../topology/features.js'

const names = cardFraudFeatures.map((f) => f.name)
const row = (values: Record<string, number>) => Float32Array.from(names.map((n) => values[n] ?? 0))
const decide = createDecider({ review: 0.4, decline: 0.7 }, names)

test('seed thresholds: < 0.40 approve, 0.40–0.70 review, ≥ 0.70 decline', () => {
  assert.equal(decide(0.39, row({})).decision, 'approve')
  assert.equal(decide(0.4, row({})).decision, 'review')
  assert.equal(decide(0.69, row({})).decision, 'review')
  assert.equal(decide(0.7, row({})).decision, 'decline')
})

test('flagged decisions say why, from the features; approvals carry no reasons', () => {
  const features = row({ card_count_1h: 6, is_abroad: 1, card_seconds_since_last: 30, card_amount_over_mean_7d: 1 })
  assert.deepEqual(decide(0.9, features).reasons, ['velocity_1h', 'rapid_succession', 'abroad'])
  assert.deepEqual(decide(0.1, features).reasons, [])
  assert.deepEqual(decide(0.5, row({ card_seconds_since_last: 3600 })).reasons, ['model_score'])
})

test("a row among others (the job keeps a poll's rows in one array) is read at its offset, not from the start", () => {
  const rows = new Float32Array(3 * names.length)
  const slow = { card_seconds_since_last: 3600 }
  rows.set(row({ ...slow, card_count_1h: 6 }), 0)
  rows.set(row({ ...slow, is_abroad: 1 }), names.length)
  rows.set(row(slow), 2 * names.length)
  assert.deepEqual(decide(0.9, rows, names.length).reasons, ['abroad'])
  assert.deepEqual(decide(0.9, rows, 2 * names.length).reasons, ['model_score'])
})
