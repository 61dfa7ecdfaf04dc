import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MicroBatcher } from '../../../../src/stages/infer/micro-batcher.js'

function manualScheduler() {
  const timers: { fn: () => void; cancelled: boolean }[] = []
  return {
    schedule: (fn: () => void) => {
      const timer = { fn, cancelled: false }
      timers.push(timer)
      return { cancel: () => void (timer.cancelled = true) }
    },
    fire: () => timers.splice(0).forEach((t) => !t.cancelled && t.fn()),
  }
}

test('a full batch flushes at once; a partial one when its linger timer fires; order is kept', () => {
  const clock = manualScheduler()
  const batches: number[][] = []
  const b = new MicroBatcher<number>({
    maxRecords: 3,
    lingerMs: 5,
    onBatch: (items) => batches.push(items),
    schedule: clock.schedule,
  })
  for (const n of [1, 2, 3, 4, 5]) b.add(n)
  assert.deepEqual(batches, [[1, 2, 3]])
  assert.equal(b.pending, 2)
  clock.fire()
  assert.deepEqual(batches, [
    [1, 2, 3],
    [4, 5],
  ])
})

test('an explicit flush cancels the timer and an empty flush emits nothing', () => {
  const clock = manualScheduler()
  const batches: number[][] = []
  const b = new MicroBatcher<number>({
    maxRecords: 10,
    lingerMs: 5,
    onBatch: (items) => batches.push(items),
    schedule: clock.schedule,
  })
  b.add(1)
  b.flush()
  b.flush()
  clock.fire()
  assert.deepEqual(batches, [[1]])
})
