import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Scorer } from '../../src/core/ports.js'
import { RulesState, type TableRecord } from '../../src/rules/rules-state.js'
import { SIMPLE_FEATURES, cardFraudDriver, transactionRecord } from '../helpers/card-fraud-driver.js'

const FEATURES = SIMPLE_FEATURES
const T0 = Date.UTC(2026, 0, 5)
const record = (key: string, value: unknown): TableRecord => ({
  key: Buffer.from(key),
  value: value === null ? null : Buffer.from(JSON.stringify(value)),
})

/** A scorer whose score is amount / 1000, counting every row it is asked to score. */
function countingScorer(featureNames: readonly string[], scored: { rows: number; amounts: number[] }): Scorer {
  const width = featureNames.length
  const model = { name: 'm', version: '1' }
  return {
    model,
    featureNames,
    score: async (rows, count) => {
      scored.rows += count
      for (let i = 0; i < count; i++) scored.amounts.push(rows[i * width]!)
      return {
        models: [
          {
            model,
            role: 'champion',
            thresholds: { review: 0.4, decline: 0.7 },
            scores: Float32Array.from({ length: count }, (_, i) => Math.min(1, rows[i * width]! / 1_000)),
          },
        ],
      }
    },
    close: async () => {},
  }
}

test('a block-listed card is declined with the list as reason and rule, and never reaches inference', async () => {
  const rules = new RulesState({ featureNames: FEATURES.map((f) => f.name) })
  rules.applyListRecords([record('block:card:card_bad', { list: 'block', kind: 'card', value: 'card_bad' })])
  const scored = { rows: 0, amounts: [] as number[] }
  const harness = await cardFraudDriver({
    features: FEATURES,
    rules,
    scorer: (names) => countingScorer(names, scored),
  })
  await harness.driver.pipe([
    transactionRecord('ok-1', { card: 'card_good', amount: 11, eventTimeMs: T0 }),
    transactionRecord('bad-1', { card: 'card_bad', amount: 12, eventTimeMs: T0 + 1_000 }),
    transactionRecord('ok-2', { card: 'card_good', amount: 13, eventTimeMs: T0 + 2_000 }),
  ])
  for (let i = 0; i < 20 && harness.driver.stats.scored < 3; i++) await harness.driver.advance(10)
  await harness.driver.close()
  assert.deepEqual(scored.amounts, [11, 13], 'only the other card was scored')
  const decisions = new Map(harness.decisions().map((d) => [d.transaction_id, d]))
  const bad = decisions.get('bad-1')!
  assert.deepEqual(
    [bad.decision, bad.score, bad.reasons, bad.rules],
    ['decline', 0, ['list:block:card'], ['list:block:card']],
  )
  assert.equal(bad.rules_version, rules.version)
  assert.deepEqual(
    harness.alerts().map((a) => a.transaction_id),
    ['bad-1'],
    'a forced decline alerts like any other',
  )
  assert.deepEqual([decisions.get('ok-1')!.decision, decisions.get('ok-1')!.rules], ['approve', []])
  const row = harness.scores.rows.find((r) => r.row.transaction_id === 'bad-1')!.row
  assert.deepEqual([row.model_role, row.decision, row.rules_version], ['rules', 'decline', rules.version])
})

test('rules change between batches: a pre rule settles, a post rule forces after the thresholds, a delete undoes both', async () => {
  const rules = new RulesState({ featureNames: FEATURES.map((f) => f.name) })
  const scored = { rows: 0, amounts: [] as number[] }
  const harness = await cardFraudDriver({ features: FEATURES, rules, scorer: (names) => countingScorer(names, scored) })
  let n = 0
  const send = async (amount: number) => {
    const id = `tx-${n}`
    await harness.driver.pipe([transactionRecord(id, { card: `card_${n}`, amount, eventTimeMs: T0 + n++ * 1_000 })])
    for (let i = 0; i < 20 && harness.driver.stats.scored < n; i++) await harness.driver.advance(10)
    return harness.decisions().find((d) => d.transaction_id === id)!
  }
  const before = await send(800)
  assert.deepEqual([before.decision, before.rules], ['decline', []])
  rules.applyRuleRecords([
    record('vip', {
      id: 'vip',
      priority: 1,
      stage: 'pre',
      when: { field: 'amount', op: '==', value: 800 },
      then: { decision: 'approve', reason: 'vip' },
    }),
    record('second-look', {
      id: 'second-look',
      priority: 2,
      when: {
        all: [
          { field: 'score', op: '>=', value: 0.5 },
          { field: 'feature.card_count_1h', op: '>=', value: 1 },
        ],
      },
      then: { band: 'lower', reason: 'second_look' },
    }),
  ])
  const vip = await send(800)
  assert.deepEqual(
    [vip.decision, vip.reasons, vip.rules, vip.rules_version],
    ['approve', ['vip'], ['rule:vip'], rules.version],
  )
  const lowered = await send(750)
  assert.deepEqual([lowered.decision, lowered.rules], ['review', ['rule:second-look']])
  assert.ok(lowered.reasons.includes('second_look'))
  assert.equal(scored.rows, 2, 'the settled transaction was not scored')
  rules.applyRuleRecords([record('vip', null), record('second-look', null)])
  const after = await send(800)
  assert.deepEqual([after.decision, after.rules, after.rules_version], ['decline', [], before.rules_version])
  await harness.driver.close()
})
