import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Scorer } from '../../src/core/ports.js'
import type { FirstTier } from '../../src/stages/infer/first-tier.js'
import { SIMPLE_FEATURES, cardFraudDriver, transactionRecord as tx } from '../helpers/card-fraud-driver.js'

const FEATURES = SIMPLE_FEATURES

/** sigmoid(ln(1 + amount) − 6): below 0.02 up to an amount of 7, 0.71 at 1,000. */
const FIRST: FirstTier = {
  model: { name: 'lr', version: '2' },
  linear: {
    mean: Float64Array.from([0, 0]),
    scale: Float64Array.from([1, 1]),
    weights: Float64Array.from([1, 0]),
    bias: -6,
  },
  thresholds: { review: 0.4, decline: 0.7 },
  approveBelow: 0.02,
  declineFrom: Infinity,
}

/** The tree model's stand-in: amount / 1,000, recording every amount it was asked to score. */
function recordingScorer(seen: number[], options: { fail?: boolean } = {}) {
  return (featureNames: readonly string[]): Scorer => {
    const model = { name: 'gbdt', version: '1' }
    const width = featureNames.length
    return {
      model,
      featureNames,
      score: async (rows, count) => {
        for (let i = 0; i < count; i++) seen.push(rows[i * width]!)
        if (options.fail) throw Object.assign(new Error('worker died'), { code: 'FS_ERR_INFER' })
        return {
          models: [
            {
              model,
              role: 'champion' as const,
              thresholds: { review: 0.4, decline: 0.7 },
              scores: Float32Array.from({ length: count }, (_, i) => rows[i * width]! / 1_000),
            },
          ],
        }
      },
      close: async () => {},
    }
  }
}

const T0 = Date.UTC(2026, 0, 5)
const AMOUNTS = [1, 500, 3, 7, 8, 900, 0, 20]

test('tier 1 settles clear approvals on its own, only the borderline band reaches the tree model, in offset order', async () => {
  const seen: number[] = []
  const { driver, decisions, scores } = await cardFraudDriver({
    features: FEATURES,
    scorer: recordingScorer(seen),
    firstTier: FIRST,
  })
  await driver.pipe(AMOUNTS.map((amount, i) => tx(`tx-${i}`, { amount, eventTimeMs: T0 + i * 1_000 })))
  await driver.advance(100)
  await driver.close()

  assert.deepEqual(seen, [500, 8, 900, 20], 'the tree model saw the band only')
  const decided = decisions()
  assert.deepEqual(
    decided.map((d) => `${d.transaction_id}:${d.tier}:${d.model.name}:${d.decision}`),
    [
      'tx-0:1:lr:approve',
      'tx-1:2:gbdt:review',
      'tx-2:1:lr:approve',
      'tx-3:1:lr:approve',
      'tx-4:2:gbdt:approve',
      'tx-5:2:gbdt:decline',
      'tx-6:1:lr:approve',
      'tx-7:2:gbdt:approve',
    ],
  )
  const tier1 = decided.find((d) => d.transaction_id === 'tx-3')!
  assert.equal(tier1.score, Math.fround(1 / (1 + Math.exp(-(Math.log1p(7) - 6)))))
  assert.equal(decided.find((d) => d.transaction_id === 'tx-1')!.score, Math.fround(0.5))
  assert.deepEqual(
    scores.rows.map((r) => `${r.row.transaction_id as string}:${r.row.tier as number}:${r.row.model_name as string}`),
    decided.map((d) => `${d.transaction_id}:${d.tier}:${d.model.name}`),
  )
  assert.equal(driver.stats.scored, AMOUNTS.length)
})

test('a batch tier 1 settles entirely never reaches the tree model; without tiers every decision has no tier', async () => {
  const seen: number[] = []
  const tiered = await cardFraudDriver({ features: FEATURES, scorer: recordingScorer(seen), firstTier: FIRST })
  await tiered.driver.pipe([1, 2, 3].map((amount, i) => tx(`tx-${i}`, { amount, eventTimeMs: T0 + i })))
  await tiered.driver.advance(100)
  await tiered.driver.close()
  assert.deepEqual(seen, [])
  assert.deepEqual(
    tiered.decisions().map((d) => d.tier),
    [1, 1, 1],
  )

  const plain = await cardFraudDriver({ features: FEATURES, scorer: recordingScorer(seen) })
  await plain.driver.pipe([1, 2, 3].map((amount, i) => tx(`tx-${i}`, { amount, eventTimeMs: T0 + i })))
  await plain.driver.advance(100)
  await plain.driver.close()
  assert.deepEqual(seen, [1, 2, 3])
  assert.ok(plain.decisions().every((d) => d.tier === undefined))
  assert.ok(plain.scores.rows.every((r) => r.row.tier === 0))
})

test('when the tree model fails, the fallback rules decide the band and tier 1 keeps what it settled', async () => {
  const seen: number[] = []
  const { driver, decisions } = await cardFraudDriver({
    features: FEATURES,
    scorer: recordingScorer(seen, { fail: true }),
    firstTier: FIRST,
  })
  await driver.pipe(AMOUNTS.map((amount, i) => tx(`tx-${i}`, { amount, eventTimeMs: T0 + i * 1_000 })))
  await driver.advance(100)
  await driver.close()
  assert.deepEqual(
    decisions().map(
      (d) => `${d.transaction_id}:${d.tier}:${d.reasons.includes('fallback') ? 'fallback' : d.model.name}`,
    ),
    [
      'tx-0:1:lr',
      'tx-1:2:fallback',
      'tx-2:1:lr',
      'tx-3:1:lr',
      'tx-4:2:fallback',
      'tx-5:2:fallback',
      'tx-6:1:lr',
      'tx-7:2:fallback',
    ],
  )
})
