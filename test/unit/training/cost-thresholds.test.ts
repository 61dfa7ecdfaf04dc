import assert from 'node:assert/strict'
import { test } from 'node:test'
import { confusionAt, costAt, GRID_STEPS, tuneThresholds } from '../../../src/training/cost-thresholds.js'
import { Random } from '../../../src/generator/random.js'

const model = { reviewCost: 5, declineCost: 50 }

// Highest score first: fraud 200, legit, fraud 100, legit, fraud 8, legit, legit.
const rows = {
  scores: [0.95, 0.85, 0.6, 0.55, 0.3, 0.2, 0.1],
  labels: [true, false, true, false, true, false, false],
  amounts: [200, 30, 100, 40, 8, 20, 10],
}

test('cost tuning finds the hand-computed optimum: decline the 200 fraud, review the next two, let the 8 fraud through', () => {
  // By hand, over (declined top D, reviewed next R): D=1 R=2 costs 8 (missed) + 2 × 5 = 18; the runners-up are
  // D=1 R=4 (20 × 1 = 20: four reviews) and D=0 R=3 (15 + 8 = 23); declining the legit 0.85 adds 50.
  // D=1 needs decline in (0.85, 0.95], R=2 review in (0.55, 0.60]: ties go to the higher thresholds.
  const tuned = tuneThresholds(rows, model)
  assert.deepEqual(tuned.thresholds, { review: 0.6, decline: 0.95 })
  assert.deepEqual(tuned.cost, {
    total: 18,
    missed_frauds: 1,
    missed_fraud_amount: 8,
    reviews: 2,
    review_cost: 10,
    false_declines: 0,
    false_decline_cost: 0,
  })
  // The seed thresholds: 0.95 and 0.85 declined (one legit: 50), 0.60 and 0.55 reviewed (10), the 8 fraud missed.
  assert.equal(costAt(rows, { review: 0.4, decline: 0.7 }, model).total, 68)
  assert.deepEqual(confusionAt(rows, { review: 0.4, decline: 0.7 }), {
    fraud: { approve: 1, review: 1, decline: 1 },
    legitimate: { approve: 2, review: 1, decline: 1 },
  })
  // Reviews made dear, declines cheap: declining everything down to the 8 fraud is best.
  const cheapDeclines = tuneThresholds(rows, { reviewCost: 100, declineCost: 1 })
  assert.equal(cheapDeclines.thresholds.decline, 0.3)
  assert.equal(cheapDeclines.cost.total, 2, 'two legitimate transactions declined at 1 each')
})

test('cost tuning returns the least cost of every grid pair with review ≤ decline', () => {
  const random = new Random(7)
  for (let trial = 0; trial < 5; trial++) {
    const n = 300
    const labels = Array.from({ length: n }, () => random.chance(0.1))
    // Scores on and off the grid, with ties, and frauds scoring higher on average.
    const scores = labels.map((y) => Math.min(1, Math.round((random.next() * 0.7 + (y ? 0.3 : 0)) * 1000) / 1000))
    const amounts = labels.map(() => Math.round(random.logNormal(60, 1)))
    const data = { scores, labels, amounts }
    const m = { reviewCost: 1 + trial * 3, declineCost: 10 + trial * 20 }
    let best = Infinity
    for (let d = 0; d <= GRID_STEPS; d++)
      for (let r = 0; r <= d; r++)
        best = Math.min(best, costAt(data, { review: r / GRID_STEPS, decline: d / GRID_STEPS }, m).total)
    const tuned = tuneThresholds(data, m)
    assert.ok(Math.abs(tuned.cost.total - best) < 1e-6, `trial ${trial}: tuned ${tuned.cost.total} vs best ${best}`)
    assert.ok(tuned.thresholds.review <= tuned.thresholds.decline)
  }
})
