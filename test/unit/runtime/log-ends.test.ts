import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import { LogEnds } from '../../../src/runtime/log-ends.js'

test('a log-end request is served by the round in flight only if that round was sent since the time asked for', async () => {
  let nowMs = 0
  const ends = [5, 7, 9]
  const pending: (() => void)[] = []
  const queried: number[] = []
  const logEnds = new LogEnds({
    topic: 'tx',
    clock: { nowMs: () => nowMs, wallMs: () => nowMs },
    log: pino({ level: 'silent' }),
    watermarks: (tp) =>
      new Promise((resolve) => {
        queried.push(nowMs)
        pending.push(() => resolve({ low: 0, high: ends[tp.partition]! }))
      }),
  })
  const answered: string[] = []
  nowMs = 10
  logEnds.request([0], 10, () => answered.push('a'))
  nowMs = 12
  // Sent at 10: proves nothing about records appended after 11.
  logEnds.request([0], 11, () => answered.push('b'))
  // Sent at 10, asked for since 10: served by it.
  logEnds.request([0], 10, () => answered.push('c'))
  assert.deepEqual(queried, [10], 'one round at a time')
  pending.shift()!()
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(answered, ['a', 'c'])
  assert.deepEqual(logEnds.get(0), { offset: 5, askedAtMs: 10 })
  assert.deepEqual(queried, [10, 12], 'the next round starts when the previous one ends')
  pending.shift()!()
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(answered, ['a', 'c', 'b'])
  assert.deepEqual(logEnds.get(0), { offset: 5, askedAtMs: 12 })
})
