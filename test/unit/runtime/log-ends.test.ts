import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import { LogEnds } from '../../../src/runtime/log-ends.js'

const tick = () => new Promise((resolve) => setImmediate(resolve))

function harness(options: { maxRounds?: number; roundSpacingMs?: number } = {}) {
  const clock = { now: 0 }
  const ends = [5, 7, 9]
  const pending: { askedAt: number; answer: () => void }[] = []
  const logEnds = new LogEnds({
    topic: 'tx',
    clock: { nowMs: () => clock.now, wallMs: () => clock.now },
    log: pino({ level: 'silent' }),
    ...options,
    watermarks: (tp) =>
      new Promise((resolve) => {
        pending.push({ askedAt: clock.now, answer: () => resolve({ low: 0, high: ends[tp.partition]! }) })
      }),
  })
  return { clock, ends, pending, logEnds }
}

test('a log-end request is served by the round in flight only if that round was sent since the time asked for', async () => {
  const { clock, pending, logEnds } = harness()
  const answered: string[] = []
  clock.now = 10
  logEnds.request([0], 10, () => answered.push('a'))
  clock.now = 12
  // Sent at 10: proves nothing about records appended after 11, so a round of its own starts at once.
  logEnds.request([0], 11, () => answered.push('b'))
  // The round of 12 serves whoever asks since 12 or earlier.
  logEnds.request([0], 10, () => answered.push('c'))
  assert.deepEqual(
    pending.map((p) => p.askedAt),
    [10, 12],
    'a new round does not wait for the one in flight',
  )
  pending.shift()!.answer()
  await tick()
  assert.deepEqual(answered, ['a'])
  assert.deepEqual(logEnds.get(0), { offset: 5, askedAtMs: 10 })
  pending.shift()!.answer()
  await tick()
  assert.deepEqual(answered, ['a', 'b', 'c'])
  assert.deepEqual(logEnds.get(0), { offset: 5, askedAtMs: 12 })
})

test('rounds start at least the spacing apart, at most maxRounds at once, and a late answer never replaces a fresher one', async () => {
  const { clock, ends, pending, logEnds } = harness({ maxRounds: 2, roundSpacingMs: 5 })
  const answered: string[] = []
  clock.now = 100
  logEnds.request([1], 100, () => answered.push('a'))
  clock.now = 101
  logEnds.request([1], 101, () => answered.push('b'))
  assert.equal(pending.length, 1, 'within the spacing: the next round waits for its timer')
  clock.now = 105
  await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(
    pending.map((p) => p.askedAt),
    [100, 105],
  )
  clock.now = 120
  logEnds.request([1], 120, () => answered.push('c'))
  assert.equal(pending.length, 2, 'two rounds in flight: the third waits for one to end')
  // The round of 105 answers first, with a newer log end; the round of 100 then answers with an older one.
  ends[1] = 8
  pending.splice(1, 1)[0]!.answer()
  await tick()
  assert.deepEqual(answered, ['b'])
  assert.deepEqual(logEnds.get(1), { offset: 8, askedAtMs: 105 })
  assert.deepEqual(
    pending.map((p) => p.askedAt),
    [100, 120],
    'a round ended: the waiting one starts',
  )
  ends[1] = 7
  pending.shift()!.answer()
  await tick()
  assert.deepEqual(answered, ['b', 'a'])
  assert.deepEqual(logEnds.get(1), { offset: 8, askedAtMs: 105 }, 'the answer asked at 100 is older than the one held')
  pending.shift()!.answer()
  await tick()
  assert.deepEqual(answered, ['b', 'a', 'c'])
  assert.deepEqual(logEnds.get(1), { offset: 7, askedAtMs: 120 })
  logEnds.close()
})
