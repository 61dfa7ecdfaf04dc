import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cardPrecisionAtK } from '../../../src/training/card-precision.js'

const DAY_1 = Date.UTC(2026, 0, 5)
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/** [day index, hour, card, score, fraud] → the rows cardPrecisionAtK reads. */
function rowsOf(txs: readonly (readonly [number, number, string, number, boolean])[]) {
  return {
    eventTimesMs: txs.map(([day, hour]) => DAY_1 + day * DAY_MS + hour * HOUR_MS),
    cardIds: txs.map(([, , card]) => card),
    scores: txs.map(([, , , score]) => score),
    labels: txs.map(([, , , , fraud]) => fraud),
  }
}

test('card precision@k ranks cards by their top score of the day and drops a card caught by a declined fraud from later days', () => {
  const rows = rowsOf([
    // Day 1: A's fraud is declined (0.9 ≥ 0.7): caught. C is declined too, but legitimate, so not caught.
    [0, 1, 'A', 0.9, true],
    [0, 2, 'A', 0.2, false],
    [0, 3, 'B', 0.6, true],
    [0, 4, 'C', 0.8, false],
    [0, 5, 'D', 0.1, false],
    // Day 2: A is blocked; ranking B 0.7, D 0.5, C 0.3 → top 2 holds one compromised card. Keeping A would give 2.
    [1, 1, 'A', 0.95, true],
    [1, 2, 'B', 0.7, true],
    [1, 3, 'C', 0.3, false],
    [1, 4, 'D', 0.5, false],
    // Day 3: B was caught on day 2 (0.7 ≥ 0.7); E and F, both frauds, top the ranking.
    [2, 1, 'B', 0.99, true],
    [2, 2, 'E', 0.45, true],
    [2, 3, 'F', 0.42, true],
    [2, 4, 'C', 0.4, false],
  ])
  const result = cardPrecisionAtK(rows, { k: 2, declineThreshold: 0.7 })
  assert.deepEqual(result.days, [
    { day: '2026-01-05', cards: 4, compromised: 2, hits: 1, precision: 0.5, dropped: 0 },
    { day: '2026-01-06', cards: 3, compromised: 1, hits: 1, precision: 0.5, dropped: 1 },
    { day: '2026-01-07', cards: 3, compromised: 2, hits: 2, precision: 1, dropped: 1 },
  ])
  assert.equal(result.k, 2)
  assert.ok(Math.abs(result.mean! - 2 / 3) < 1e-12, String(result.mean))
  // With a decline threshold nothing reaches, no card is caught: A stays in on day 2 (top 2: A and B), B on day 3
  // (top 2: B and E).
  const uncaught = cardPrecisionAtK(rows, { k: 2, declineThreshold: 1.01 })
  assert.deepEqual(
    uncaught.days.map((d) => [d.hits, d.dropped]),
    [
      [1, 0],
      [2, 0],
      [2, 0],
    ],
  )
})

test('card precision@k given the declines marks a card caught by a declined fraud, whatever its score', () => {
  const rows = rowsOf([
    // Day 1: A's fraud scored low but was declined (a rule); B's fraud scored high but was only reviewed.
    [0, 1, 'A', 0.1, true],
    [0, 2, 'B', 0.9, true],
    [0, 3, 'C', 0.5, false],
    // Day 2: A is dropped, B stays (cards 2, not 3): top 1 is B (0.8), a hit.
    [1, 1, 'A', 0.95, true],
    [1, 2, 'B', 0.8, true],
    [1, 3, 'C', 0.6, false],
  ])
  const declined = [true, false, false, false, false, false]
  const result = cardPrecisionAtK(rows, { k: 1, declined })
  assert.deepEqual(
    result.days.map((d) => [d.day, d.hits, d.dropped, d.cards]),
    [
      ['2026-01-05', 1, 0, 3],
      ['2026-01-06', 1, 1, 2],
    ],
  )
})

test('card precision@k divides by k on a quiet day, breaks ties by card id, and is null without rows', () => {
  const quiet = cardPrecisionAtK(
    rowsOf([
      [0, 1, 'b', 0.5, true],
      [0, 2, 'a', 0.5, false],
    ]),
    { k: 4, declineThreshold: 0.7 },
  )
  assert.equal(quiet.days[0]!.precision, 0.25, 'one compromised card of k = 4, though only 2 cards were active')
  const tied = cardPrecisionAtK(
    rowsOf([
      [0, 1, 'b', 0.5, true],
      [0, 2, 'a', 0.5, false],
    ]),
    { k: 1, declineThreshold: 0.7 },
  )
  assert.equal(tied.days[0]!.hits, 0, 'card a ranks first on a tie')
  assert.deepEqual(cardPrecisionAtK(rowsOf([]), { k: 100, declineThreshold: 0.7 }), { k: 100, mean: null, days: [] })
})
