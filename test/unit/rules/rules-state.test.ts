import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Transaction } from '../../../src/core/transaction-v1.js'
import { RulesState, type TableRecord } from '../../../src/rules/rules-state.js'

const FEATURES = ['card_count_1h']
const record = (key: string, value: unknown): TableRecord => ({
  key: Buffer.from(key),
  value: value === null ? null : Buffer.from(JSON.stringify(value)),
})
const rule = (id: string, extra: object = {}) => ({
  id,
  priority: 1,
  when: { field: 'amount', op: '>', value: 10 },
  then: { decision: 'decline' },
  ...extra,
})
const TX = { card_id: 'c', amount: 50, eventTimeMs: 0 } as Transaction

test('the version is a content hash: the same on any order of the same records, back to before after a delete', () => {
  const a = new RulesState({ featureNames: FEATURES })
  const b = new RulesState({ featureNames: FEATURES })
  const empty = a.version
  assert.equal(empty, '0000000000000000')
  a.applyRuleRecords([record('r1', rule('r1')), record('r2', rule('r2'))])
  a.applyListRecords([record('block:card:c', { list: 'block', kind: 'card', value: 'c' })])
  b.applyListRecords([record('block:card:c', { list: 'block', kind: 'card', value: 'c' })])
  b.applyRuleRecords([record('r2', rule('r2'))])
  b.applyRuleRecords([record('r1', rule('r1', { priority: 7 })), record('r1', rule('r1'))])
  assert.equal(a.version, b.version)
  assert.equal(a.engine.version, a.version)
  assert.notEqual(a.version, empty)
  a.applyRuleRecords([record('r1', null), record('r2', null)])
  a.applyListRecords([record('block:card:c', null)])
  assert.equal(a.version, empty)
  assert.equal(a.engine.size, 0)
  assert.equal(a.engine.lists.size, 0)
})

test('a record that is invalid, keyed wrongly or names an unknown feature is refused and the previous value stays', () => {
  const refused: string[] = []
  const applied: number[] = []
  const state = new RulesState({
    featureNames: FEATURES,
    onRefused: (topic, key, err) => refused.push(`${topic}/${key}: ${(err as Error).message}`),
    onApplied: (_, records) => applied.push(records),
  })
  state.applyRuleRecords([record('r1', rule('r1'))])
  const version = state.version
  state.applyRuleRecords([
    record('r1', rule('r1', { when: { field: 'feature.nope', op: '>', value: 1 } })),
    record('r2', rule('r1')),
    { key: Buffer.from('r3'), value: Buffer.from('{not json') },
  ])
  state.applyListRecords([record('block:card:x', { list: 'block', kind: 'planet', value: 'x' })])
  assert.equal(refused.length, 4)
  assert.match(refused[0]!, /rules\/r1: .*unknown feature "nope"/)
  assert.match(refused[1]!, /the key must be the id/)
  assert.match(refused[3]!, /lists\/block:card:x: .*kind/)
  assert.deepEqual(applied, [1], 'a batch that applied nothing makes no new engine')
  assert.equal(state.version, version)
  assert.equal(
    state.engine.screen({ tx: TX, rows: new Float32Array(1), at: 0, score: NaN, nowMs: 0 }),
    undefined,
    'post rule: not in screening',
  )
  assert.deepEqual(
    state.rules().map((r) => r.id),
    ['r1'],
  )
})

test('a disabled rule is held (listed, in the version) but does not run', () => {
  const state = new RulesState({ featureNames: FEATURES })
  state.applyRuleRecords([record('r1', rule('r1', { enabled: false, stage: 'pre' }))])
  assert.equal(state.engine.size, 0)
  assert.equal(state.rules().length, 1)
  assert.notEqual(state.version, '0000000000000000')
  state.applyRuleRecords([record('r1', rule('r1', { stage: 'pre' }))])
  assert.equal(state.engine.size, 1)
  assert.equal(
    state.engine.screen({ tx: TX, rows: new Float32Array(1), at: 0, score: NaN, nowMs: 0 })?.decision,
    'decline',
  )
})
