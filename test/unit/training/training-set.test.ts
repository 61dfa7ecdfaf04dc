import assert from 'node:assert/strict'
import { test } from 'node:test'
import { emptyTally, targetAtCutoff, timeSplit, TrainingSetBuilder } from '../../../src/training/training-set.js'

const DAY_MS = 24 * 60 * 60 * 1000

test('a row is labelled by its label known at the cutoff; without one it is legitimate once mature, else left out', () => {
  const cutoff = { labelCutoffMs: 100 * DAY_MS, maturityMs: 30 * DAY_MS }
  const tally = emptyTally()
  assert.equal(targetAtCutoff(true, 99 * DAY_MS, cutoff, tally), true, 'a recent fraud label counts')
  assert.equal(targetAtCutoff(false, 99 * DAY_MS, cutoff, tally), false, 'a recent legitimate label counts')
  assert.equal(targetAtCutoff(undefined, 70 * DAY_MS, cutoff, tally), false, 'exactly the maturity old: legitimate')
  assert.equal(targetAtCutoff(undefined, 70 * DAY_MS + 1, cutoff, tally), undefined, 'younger: left out')
  assert.deepEqual(tally, {
    rows_read: 4,
    fraud: 1,
    labelled_legitimate: 1,
    unlabelled_legitimate: 1,
    unlabelled_dropped: 1,
  })
})

test('the training set is ordered by event time, ties in arrival order, with each row’s amount and card beside it', () => {
  const builder = new TrainingSetBuilder()
  const row = (x: number) => Float32Array.of(x)
  builder.add(row(1), false, { amount: 10, card_id: 'a', eventTimeMs: 300 })
  builder.add(row(2), true, { amount: 20, card_id: 'b', eventTimeMs: 100 })
  builder.add(row(3), false, { amount: 30, card_id: 'c', eventTimeMs: 300 })
  builder.add(row(4), true, { amount: 40, card_id: 'd', eventTimeMs: 200 })
  const set = builder.finish({ kind: 'generator', seed: 1, fraud_rate: 0.5 })
  assert.deepEqual(
    set.rows.map((r) => r[0]),
    [2, 4, 1, 3],
  )
  assert.deepEqual(set.labels, [true, true, false, false])
  assert.deepEqual(set.amounts, [20, 40, 10, 30])
  assert.deepEqual(set.cardIds, ['b', 'd', 'a', 'c'])
  assert.deepEqual([set.firstEventMs, set.lastEventMs], [100, 300])
  assert.deepEqual(timeSplit(10), { validFrom: 6, testFrom: 7 })
})
