import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ModelScores, Scorer } from '../../src/core/ports.js'
import type { DecisionV1 } from '../../src/core/records.js'
import { challengerArm } from '../../src/stages/infer/ab-split.js'
import { SIMPLE_FEATURES, cardFraudDriver, transactionRecord } from '../helpers/card-fraud-driver.js'

const FEATURES = SIMPLE_FEATURES
const T0 = Date.UTC(2026, 0, 5)
const CUT = { review: 0.5, decline: 0.8 }

/** A lineup scorer on the main thread: each model a function of the row, the champion's explanation made up. */
function lineupScorer(
  featureNames: readonly string[],
  models: { name: string; role: ModelScores['role']; fn: (row: Float32Array) => number }[],
  challengerPercent?: number,
): Scorer {
  const width = featureNames.length
  return {
    model: { name: models[0]!.name, version: '1' },
    featureNames,
    score: async (rows, count) => ({
      models: models.map((m) => ({
        model: { name: m.name, version: '1' },
        role: m.role,
        thresholds: CUT,
        scores: Float32Array.from({ length: count }, (_, i) => m.fn(rows.subarray(i * width, (i + 1) * width))),
        ...(m.role === 'shadow'
          ? {}
          : {
              // k = 2: the amount's contribution, then the count's (−1: none).
              explanation: {
                k: 2,
                features: Int32Array.from({ length: count * 2 }, (_, j) => (j % 2 === 0 ? 0 : -1)),
                values: Float32Array.from({ length: count * 2 }, (_, j) => (j % 2 === 0 ? 1.25 : 0)),
              },
            }),
      })),
      ...(challengerPercent !== undefined ? { challengerPercent } : {}),
    }),
    close: async () => {},
  }
}

async function run(
  scorer: (names: readonly string[]) => Scorer,
  amounts: number[],
  cards?: string[],
  overrides: Record<string, unknown> = {},
) {
  const harness = await cardFraudDriver({
    features: FEATURES,
    scorer,
    overrides: { 'infer.deadlineMs': 50, ...overrides },
  })
  await harness.driver.pipe(
    amounts.map((amount, i) =>
      transactionRecord(`tx-${i}`, { amount, eventTimeMs: T0 + i * 1_000, ...(cards ? { card: cards[i]! } : {}) }),
    ),
  )
  for (let step = 0; step < 50 && harness.driver.stats.scored < amounts.length; step++) await harness.driver.advance(20)
  await harness.driver.close()
  return harness
}

test('shadows score every transaction beside the champion, under `shadow`, and never change a decision', async () => {
  const champion = (row: Float32Array) => row[0]! / 1_000
  const shadow = (row: Float32Array) => 1 - row[0]! / 1_000
  const { decisions, scores } = await run(
    (names) =>
      lineupScorer(names, [
        { name: 'champ', role: 'champion', fn: champion },
        { name: 'shade', role: 'shadow', fn: shadow },
      ]),
    [100, 600, 900],
  )
  assert.deepEqual(
    decisions().map((d) => [
      d.decision,
      d.model.name,
      d.shadow?.map((s) => [s.name, s.role, Math.round(s.score * 10)]),
    ]),
    [
      ['approve', 'champ', [['shade', 'shadow', 9]]],
      ['review', 'champ', [['shade', 'shadow', 4]]],
      ['decline', 'champ', [['shade', 'shadow', 1]]],
    ],
  )
  const rows = scores.rows.map((r) => r.row)
  assert.deepEqual(
    rows.map((r) => [r['transaction_id'], r['model_name'], r['model_role'], r['decision']]),
    [
      ['tx-0', 'champ', 'champion', 'approve'],
      ['tx-0', 'shade', 'shadow', 'decline'],
      ['tx-1', 'champ', 'champion', 'review'],
      ['tx-1', 'shade', 'shadow', 'approve'],
      ['tx-2', 'champ', 'champion', 'decline'],
      ['tx-2', 'shade', 'shadow', 'approve'],
    ],
    "a row per model, the shadow's decision by its own thresholds",
  )
  assert.deepEqual(
    decisions()[2]!.explanation,
    [{ feature: 'amount', contribution: 1.25 }],
    'the deciding model explains; −1 slots are not features',
  )
  assert.ok(decisions()[2]!.reasons.includes('feature:amount'))
  assert.deepEqual(rows[4]!['explanation_features'], ['amount'])
  assert.deepEqual(rows[5]!['explanation_features'], [], 'a shadow row carries no explanation')
})

test('a challenger decides for the cards of its arm, by a stable hash of the card; the arm is recorded', async () => {
  const cards = Array.from({ length: 40 }, (_, i) => `card-${i}`)
  const { decisions, scores } = await run(
    (names) =>
      lineupScorer(
        names,
        [
          { name: 'champ', role: 'champion', fn: () => 0.1 },
          { name: 'chall', role: 'challenger', fn: () => 0.9 },
        ],
        25,
      ),
    cards.map(() => 10),
    cards,
  )
  const expected = cards.map((card) => challengerArm(card, { name: 'chall', version: '1' }, 25))
  assert.ok(expected.includes('challenger') && expected.includes('champion'), 'both arms are drawn')
  const byTx = new Map<string, DecisionV1>(decisions().map((d) => [d.transaction_id, d]))
  cards.forEach((card, i) => {
    const d = byTx.get(`tx-${i}`)!
    assert.equal(d.arm, expected[i], card)
    assert.equal(d.model.name, expected[i] === 'challenger' ? 'chall' : 'champ')
    assert.equal(d.decision, expected[i] === 'challenger' ? 'decline' : 'approve')
    assert.deepEqual(
      d.shadow?.map((s) => s.name),
      [expected[i] === 'challenger' ? 'champ' : 'chall'],
    )
  })
  const deciding = scores.rows.filter((r) => r.row['model_role'] !== 'shadow')
  assert.equal(deciding.length, cards.length, 'one deciding row per transaction')
  assert.ok(scores.rows.every((r) => r.row['ab_arm'] === expected[Number(String(r.row['transaction_id']).slice(3))]))
})

test('inference that fails or stalls past the deadline: the fallback rules decide, say so, and the job goes on', async () => {
  for (const failure of ['error', 'deadline'] as const) {
    let calls = 0
    const { decisions, driver, scores } = await run(
      (names) => ({
        model: { name: 'broken', version: '1' },
        featureNames: names,
        score: async (_rows, count) => {
          calls++
          if (failure === 'error') throw new Error('model exploded')
          await new Promise((resolve) => setTimeout(resolve, 400))
          return {
            models: [
              {
                model: { name: 'broken', version: '1' },
                role: 'champion',
                thresholds: CUT,
                scores: new Float32Array(count),
              },
            ],
          }
        },
        close: async () => {},
      }),
      // Card 1: five in an hour (from the fourth on, the hour's count is ≥ 4: review); card 2: a zero-amount probe.
      [10, 10, 10, 10, 10, 0],
      ['c1', 'c1', 'c1', 'c1', 'c1', 'c2'],
      {
        'infer.fallback.rules': [
          { feature: 'card_count_1h', atLeast: 6, decision: 'decline' },
          { feature: 'card_count_1h', atLeast: 4, decision: 'review' },
          { feature: 'amount', atMost: 0, decision: 'review' },
        ],
      },
    )
    assert.ok(calls > 0)
    const all = decisions()
    assert.equal(all.length, 6, `${failure}: every transaction decided`)
    assert.ok(all.every((d) => d.reasons[0] === 'fallback' && d.reasons[1] === `fallback_${failure}`))
    assert.deepEqual(
      all.map((d) => [d.decision, d.rules]),
      [
        ['approve', []],
        ['approve', []],
        ['approve', []],
        ['review', ['fallback:card_count_1h>=4']],
        ['review', ['fallback:card_count_1h>=4']],
        ['review', ['fallback:amount<=0']],
      ],
      `${failure}: the rules on the features decide`,
    )
    assert.equal(driver.stats.scored, 6)
    assert.ok(scores.rows.every((r) => r.row['model_role'] === 'fallback' && r.row['score'] === 0))
  }
})
