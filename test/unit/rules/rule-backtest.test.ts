import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Transaction } from '../../../src/core/transaction-v1.js'
import { ListIndex } from '../../../src/rules/list-index.js'
import { compileForBacktest, RuleBacktestAccumulator, type HistoryRow } from '../../../src/rules/rule-backtest.js'
import { validateRule } from '../../../src/rules/rule-v1.js'

const row = (card: string, amount: number, fraud: boolean, decision = 'approve', modelScored = true): HistoryRow => ({
  tx: { card_id: card, amount, country: 'NL', eventTimeMs: 0 } as Transaction,
  rows: Float32Array.of(amount > 100 ? 1 : 0),
  at: 0,
  score: amount / 1_000,
  modelScored,
  decision,
  fraud,
})

test('a backtest counts hits, cards, precision, fraud caught and changed decisions per day and in total', () => {
  const rule = validateRule({
    id: 'big',
    priority: 1,
    when: {
      all: [
        { field: 'feature.big', op: '==', value: 1 },
        { field: 'score', op: '>', value: 0.15 },
      ],
    },
    then: { decision: 'decline' },
  })
  const acc = new RuleBacktestAccumulator(compileForBacktest(rule, ['big'], new ListIndex()))
  acc.addDay('2026-01-05', [
    row('a', 500, true),
    row('a', 300, false, 'decline'),
    row('b', 200, false),
    row('c', 50, true),
    row('d', 900, true, 'approve', false),
  ])
  acc.addDay('2026-01-06', [row('a', 20, false)])
  const { days, total } = acc.result()
  assert.deepEqual(days[0], {
    day: '2026-01-05',
    transactions: 5,
    hits: 3,
    cards: 2,
    fraudHits: 1,
    precision: 1 / 3,
    fraudAmountCaught: 500,
    changed: 2,
  })
  assert.equal(days[1]!.precision, null)
  assert.deepEqual([total.transactions, total.hits, total.fraudHits, total.changed], [6, 3, 1, 2])
})

test('a rule on a field scores does not keep cannot be backtested', () => {
  const rule = validateRule({ id: 'ip', priority: 1, when: { field: 'ip', in: ['1.2.3.4'] }, then: { reason: 'x' } })
  assert.throws(() => compileForBacktest(rule, [], new ListIndex()), {
    code: 'FS_ERR_RULE_INVALID',
    message: /ip, which the scores table does not keep/,
  })
})
