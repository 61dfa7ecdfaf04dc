import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseRules, validateRule } from '../../../src/rules/rule-v1.js'

const RULE = { id: 'r1', priority: 1, when: { field: 'amount', op: '>', value: 1 }, then: { decision: 'review' } }

test('a rule gets its defaults: stage post, enabled', () => {
  assert.deepEqual(validateRule(RULE), { ...RULE, stage: 'post', enabled: true })
})

test('every issue of an invalid rule is reported with its path, as FS_ERR_RULE_INVALID', () => {
  const err = (raw: unknown) => {
    try {
      validateRule(raw)
    } catch (e) {
      return e as { code: string; message: string }
    }
    assert.fail('accepted')
  }
  const bad = err({ id: 'has space', priority: 1.5, when: RULE.when, then: {} })
  assert.equal(bad.code, 'FS_ERR_RULE_INVALID')
  assert.match(bad.message, /id: id: 1–100 letters/)
  assert.match(bad.message, /priority: /)
  assert.match(bad.message, /then: then needs a decision, a reason or a band/)
  assert.match(err({ ...RULE, then: { decision: 'decline', band: 'raise' } }).message, /exclude each other/)
  assert.match(err({ ...RULE, when: { field: 'amount', op: '=~', value: 1 } }).message, /when.op/)
  assert.match(err({ ...RULE, when: { fields: 'amount' } }).message, /when: not a condition/)
  assert.match(err({ ...RULE, when: { all: [RULE.when, { field: 'x', in: [] }] } }).message, /when.all.1.in/)
  assert.match(err({ ...RULE, extra: 1 }).message, /Unrecognized key/)
})

test('a file holds one rule, a list, { rules: [...] } or several YAML documents; duplicates and bad YAML are refused', () => {
  const yaml = `id: a\npriority: 2\nwhen: { field: mcc, in: [5411, 5812] }\nthen: { reason: grocery }\n`
  assert.deepEqual(
    parseRules(yaml).map((r) => r.id),
    ['a'],
  )
  assert.deepEqual(
    parseRules(`${yaml}---\n${yaml.replace('id: a', 'id: b')}`).map((r) => r.id),
    ['a', 'b'],
  )
  assert.deepEqual(
    parseRules(JSON.stringify({ rules: [RULE, { ...RULE, id: 'r2' }] })).map((r) => r.id),
    ['r1', 'r2'],
  )
  assert.deepEqual(
    parseRules(JSON.stringify([RULE])).map((r) => r.id),
    ['r1'],
  )
  assert.throws(() => parseRules(JSON.stringify([RULE, RULE]), 'f.yaml'), {
    code: 'FS_ERR_RULE_INVALID',
    message: /f.yaml defines rule r1 twice/,
  })
  assert.throws(() => parseRules('id: [unclosed', 'f.yaml'), { code: 'FS_ERR_RULE_INVALID', message: /does not parse/ })
  assert.throws(() => parseRules('', 'f.yaml'), { code: 'FS_ERR_RULE_INVALID', message: /holds no rule/ })
  assert.throws(() => parseRules(JSON.stringify([RULE, { ...RULE, id: 'r2', priority: 'high' }]), 'f.yaml'), {
    message: /f.yaml \(rule 2\) is not a valid rule: priority/,
  })
})
