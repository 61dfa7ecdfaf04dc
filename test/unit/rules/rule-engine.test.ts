import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Transaction } from '../../../src/core/transaction-v1.js'
import { compileRule, type RuleInput } from '../../../src/rules/compile-rule.js'
import { ListIndex } from '../../../src/rules/list-index.js'
import { RuleEngine, shiftBand } from '../../../src/rules/rule-engine.js'
import { validateRule, type Condition } from '../../../src/rules/rule-v1.js'

const FEATURES = ['card_count_1h', 'is_abroad']
const NOW = Date.UTC(2026, 0, 5)

function tx(fields: Partial<Transaction> = {}): Transaction {
  return {
    transaction_id: 't1',
    card_id: 'card_1',
    customer_id: 'cus_1',
    merchant_id: 'mer_1',
    terminal_id: 'ter_1',
    amount: 100,
    currency: 'EUR',
    mcc: '5411',
    country: 'NL',
    card_country: 'NL',
    channel: 'ecom',
    event_time: NOW,
    eventTimeMs: NOW,
    ...fields,
  }
}

function input(fields: Partial<Transaction> = {}, row = [0, 0], score = 0.5): RuleInput {
  return { tx: tx(fields), rows: Float32Array.from([9, 9, ...row]), at: 2, score, nowMs: NOW }
}

function rule(id: string, when: Condition, then: object, extra: object = {}) {
  return validateRule({ id, priority: 1, when, then, ...extra })
}

function test1(when: Condition, extra: object = {}) {
  return compileRule(rule('r', when, { reason: 'x' }, extra), { featureNames: FEATURES, lists: new ListIndex() }).test
}

test('comparisons read transaction fields, features (at the row offset) and the score', () => {
  assert.equal(test1({ field: 'amount', op: '>=', value: 100 })(input()), true)
  assert.equal(test1({ field: 'amount', op: '>', value: 100 })(input()), false)
  assert.equal(test1({ field: 'country', op: '!=', value: 'NL' })(input({ country: 'FR' })), true)
  assert.equal(test1({ field: 'mcc', op: '==', value: 5411 })(input()), true, 'an unquoted code compares as text')
  assert.equal(test1({ field: 'feature.card_count_1h', op: '>=', value: 4 })(input({}, [4, 0])), true)
  assert.equal(test1({ field: 'feature.card_count_1h', op: '>=', value: 4 })(input({}, [3, 0])), false)
  assert.equal(test1({ field: 'feature.is_abroad', op: '==', value: true })(input({}, [0, 1])), true)
  assert.equal(
    test1({ field: 'feature.card_count_1h', op: '<', value: 4 })(input({}, [NaN, 0])),
    false,
    'NaN matches nothing',
  )
  assert.equal(test1({ field: 'score', op: '>', value: 0.4 })(input({}, [0, 0], 0.45)), true)
  assert.equal(
    test1({ field: 'entry_mode', op: '!=', value: 'chip' })(input()),
    true,
    'an absent optional field is not equal',
  )
})

test('in, not_in, all, any and not combine', () => {
  const when: Condition = {
    all: [
      { field: 'channel', in: ['ecom', 'moto'] },
      { any: [{ field: 'amount', op: '>', value: 1_000 }, { not: { field: 'card_country', in: ['NL', 'BE'] } }] },
      { field: 'mcc', not_in: [6011] },
    ],
  }
  const t = test1(when)
  assert.equal(t(input({ amount: 2_000 })), true)
  assert.equal(t(input({ amount: 10 })), false)
  assert.equal(t(input({ amount: 10, card_country: 'US' })), true)
  assert.equal(t(input({ amount: 2_000, channel: 'pos' })), false)
  assert.equal(t(input({ amount: 2_000, mcc: '6011' })), false)
})

test('a field, feature or operator a rule cannot use is FS_ERR_RULE_INVALID naming it, at compile time', () => {
  const bad = (when: Condition, extra: object = {}) =>
    assert.throws(() => test1(when, extra), { code: 'FS_ERR_RULE_INVALID' })
  assert.throws(
    () => test1({ field: 'feature.nope', op: '>', value: 1 }),
    /when.field: unknown feature "nope"; the feature set has card_count_1h, is_abroad/,
  )
  assert.throws(
    () =>
      test1({
        all: [
          { field: 'amount', op: '>', value: 1 },
          { field: 'colour', op: '==', value: 'red' },
        ],
      }),
    /when.all\[1\].field: unknown field "colour"/,
  )
  assert.throws(
    () => test1({ field: 'score', op: '>', value: 0.9 }, { stage: 'pre' }),
    /score is known only after the model/,
  )
  bad({ field: 'amount', op: '>', value: 'big' })
  bad({ field: 'country', op: '<', value: 'NL' })
  bad({ field: 'amount', in: ['a'] })
  bad({ field: 'amount', in_list: 'block' })
})

test('rules run by priority: the first forced decision wins, every fired rule is named, reasons collect', () => {
  const lists = new ListIndex()
  const env = { featureNames: FEATURES, lists }
  const big = { field: 'amount', op: '>=', value: 500 } as const
  const engine = new RuleEngine(
    'v1',
    [
      compileRule(rule('b-late', big, { decision: 'approve' }, { priority: 20 }), env),
      compileRule(rule('a-first', big, { decision: 'decline', reason: 'big' }, { priority: 10 }), env),
      compileRule(rule('tie', big, { reason: 'tie' }, { priority: 10 }), env),
    ],
    lists,
  )
  const model = { decision: 'review' as const, reasons: ['velocity_1h'], rules: [] }
  assert.deepEqual(engine.amend(model, input({ amount: 600 }), undefined, true), {
    decision: 'decline',
    reasons: ['velocity_1h', 'big', 'tie'],
    rules: ['rule:a-first', 'rule:tie', 'rule:b-late'],
  })
  assert.equal(engine.amend(model, input({ amount: 10 }), undefined, true), model, 'nothing fired: the same outcome')
})

test('bands move approve → review → decline and back, clamped; pre rules carry their moves to the decision', () => {
  assert.deepEqual(
    ['approve', 'review', 'decline'].map((d) => shiftBand(d as 'approve', 1)),
    ['review', 'decline', 'decline'],
  )
  assert.deepEqual(
    ['approve', 'review', 'decline'].map((d) => shiftBand(d as 'approve', -1)),
    ['approve', 'approve', 'review'],
  )
  const lists = new ListIndex()
  const env = { featureNames: FEATURES, lists }
  const abroad = { field: 'feature.is_abroad', op: '==', value: 1 } as const
  const engine = new RuleEngine(
    'v',
    [
      compileRule(rule('pre-raise', abroad, { band: 'raise', reason: 'abroad' }, { stage: 'pre' }), env),
      compileRule(rule('post-raise', { field: 'score', op: '>', value: 0.3 }, { band: 'raise' }), env),
      compileRule(rule('trusted', { field: 'merchant_id', in: ['mer_1'] }, { band: 'lower' }, { priority: 5 }), env),
    ],
    lists,
  )
  const at = input({ merchant_id: 'mer_2' }, [0, 1], 0.35)
  const screening = engine.screen(at)
  assert.deepEqual(screening, { decision: undefined, reasons: ['abroad'], rules: ['rule:pre-raise'], band: 1 })
  const approved = { decision: 'approve' as const, reasons: [], rules: [] }
  assert.equal(engine.amend(approved, at, screening, true).decision, 'decline', 'two raises')
  assert.equal(engine.amend(approved, at, screening, false).decision, 'review', 'a fallback skips rules on the score')
  assert.equal(
    engine.amend(approved, { ...at, tx: tx({ merchant_id: 'mer_1' }) }, screening, true).decision,
    'review',
    'raise, raise, lower',
  )
})

test('lists: block declines and beats allow, allow approves, watch only adds its reason; expired entries stop matching', () => {
  const lists = new ListIndex()
  const engine = new RuleEngine('v', [], lists)
  assert.equal(engine.screen(input()), undefined, 'empty lists, no rules: nothing to do')
  lists.put({ list: 'allow', kind: 'card', value: 'card_1' })
  assert.deepEqual(engine.screen(input()), {
    decision: 'approve',
    reasons: ['list:allow:card'],
    rules: ['list:allow:card'],
    band: 0,
  })
  lists.put({ list: 'block', kind: 'merchant', value: 'mer_1' })
  assert.deepEqual(engine.screen(input()), {
    decision: 'decline',
    reasons: ['list:block:merchant', 'list:allow:card'],
    rules: ['list:block:merchant', 'list:allow:card'],
    band: 0,
  })
  lists.put({ list: 'watch', kind: 'ip', value: '10.0.0.1' })
  lists.put({ list: 'block', kind: 'country', value: 'KP' })
  assert.deepEqual(engine.screen(input({ merchant_id: 'mer_2', card_id: 'card_2', ip: '10.0.0.1' })), {
    decision: undefined,
    reasons: ['list:watch:ip'],
    rules: [],
    band: 0,
  })
  assert.equal(engine.screen(input({ merchant_id: 'x', card_id: 'y', country: 'KP' }))?.decision, 'decline')
  const expiring = new Date(NOW + 60_000).toISOString()
  lists.put({ list: 'block', kind: 'device', value: 'dev_9', expires_at: expiring })
  const device = (nowMs: number) =>
    engine.screen({ ...input({ merchant_id: 'x', card_id: 'y', device_id: 'dev_9' }), nowMs })
  assert.equal(device(NOW + 59_999)?.decision, 'decline')
  assert.equal(device(NOW + 60_000), undefined, 'expired')
  lists.remove('block:merchant:mer_1')
  assert.equal(engine.screen(input())?.decision, 'approve')
  assert.equal(lists.size, 4)
})

test('in_list looks the field up in the named list of its kind', () => {
  const lists = new ListIndex()
  const t = compileRule(rule('w', { field: 'card_country', in_list: 'watch' }, { reason: 'watched_country' }), {
    featureNames: FEATURES,
    lists,
  }).test
  assert.equal(t(input({ card_country: 'US' })), false)
  lists.put({ list: 'watch', kind: 'country', value: 'US' })
  assert.equal(t(input({ card_country: 'US' })), true, 'compiled once, reads the list as it changes')
  assert.equal(t(input({ card_country: 'NL' })), false)
})
