import assert from 'node:assert/strict'
import { test } from 'node:test'
import { evaluate, precisionAtK, recallAtFpr } from '../../../src/training/evaluate.js'

test('precision@k is the fraud share of the k highest scores, and null with fewer than k rows', () => {
  const scores = [0.1, 0.9, 0.8, 0.7, 0.2]
  const labels = [true, true, false, true, false]
  assert.equal(precisionAtK(scores, labels, 1), 1)
  assert.equal(precisionAtK(scores, labels, 2), 0.5)
  assert.equal(precisionAtK(scores, labels, 3), 2 / 3)
  assert.equal(precisionAtK(scores, labels, 5), 3 / 5)
  assert.equal(precisionAtK(scores, labels, 6), null)
  // Ties keep input order: the first of the two 0.5 scores (legitimate) is the one taken.
  assert.equal(precisionAtK([0.5, 0.5], [false, true], 1), 0)
})

test('AUC-PR, ROC AUC and recall at a false-positive rate on a hand-worked ranking', () => {
  // Ranked: fraud, legit, fraud, legit, legit. AP = (1/1 + 2/3) / 2; ROC AUC: of 2 × 3 pairs, 5 ordered right.
  const scores = [0.9, 0.8, 0.7, 0.3, 0.1]
  const labels = [true, false, true, false, false]
  const e = evaluate(scores, labels, { review: 0.5, decline: 0.85 })
  assert.ok(Math.abs(e.auc_pr - (1 + 2 / 3) / 2) < 1e-12)
  assert.ok(Math.abs(e.auc_roc - 5 / 6) < 1e-12)
  assert.equal(e.recall_at_decline, 0.5)
  assert.equal(e.precision_at_review, 2 / 3)
  // At 1 % FPR of 3 negatives the cut is the top negative (0.8): only the 0.9 fraud is strictly above it.
  assert.equal(recallAtFpr(scores, labels, 0.01), 0.5)
  // At 34 % the cut is the second negative (0.3): both frauds are above.
  assert.equal(recallAtFpr(scores, labels, 0.34), 1)
})
