import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createFallbackDecider, fallbackRulesOf } from '../../../../src/stages/decide/fallback-rules.js'

test('fallback rules: the strictest that fires decides, none approves, and every fired rule is named', () => {
  const decide = createFallbackDecider(
    [
      { feature: 'count', atLeast: 4, decision: 'review' },
      { feature: 'count', atLeast: 6, decision: 'decline' },
      { feature: 'amount', atMost: 0, decision: 'review' },
    ],
    ['amount', 'count'],
  )
  assert.deepEqual(decide('error', Float32Array.of(10, 1)), {
    decision: 'approve',
    reasons: ['fallback', 'fallback_error'],
    rules: [],
  })
  assert.deepEqual(decide('deadline', Float32Array.of(0, 7)), {
    decision: 'decline',
    reasons: ['fallback', 'fallback_deadline'],
    rules: ['fallback:count>=4', 'fallback:count>=6', 'fallback:amount<=0'],
  })
  assert.equal(decide('error', Float32Array.of(5, 5, 0, 4), 2).decision, 'review', 'reads the row at its offset')
  assert.equal(decide('error', Float32Array.of(5, NaN)).decision, 'approve', 'a missing value fires nothing')
})

test('configured rules must name features the set computes; the built-in ones apply where it does', () => {
  assert.throws(() => createFallbackDecider([{ feature: 'nope', atLeast: 1, decision: 'review' }], ['amount']), {
    code: 'FS_ERR_CONFIG_INVALID',
    message: /"nope".*amount/,
  })
  assert.throws(
    () => createFallbackDecider([{ feature: 'amount', decision: 'review' }], ['amount']),
    /atLeast or atMost/,
  )
  assert.deepEqual(
    fallbackRulesOf(undefined, ['amount', 'card_count_1h']).map((r) => r.feature),
    ['card_count_1h', 'card_count_1h'],
  )
  assert.deepEqual(fallbackRulesOf([], ['card_count_1h']), [], 'configured: exactly those')
})
