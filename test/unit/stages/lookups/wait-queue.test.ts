import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WaitQueue } from '../../../../src/stages/lookups/wait-queue.js'

test('a wait queue gives its items back in order, across the compaction of its consumed prefix', () => {
  const queue = new WaitQueue<number>()
  const out: number[] = []
  for (let i = 0; i < 5_000; i++) {
    queue.push(i)
    if (i % 3 === 0) out.push(queue.shift()!)
  }
  assert.equal(queue.peek(), out.length)
  assert.equal(queue.length, 5_000 - out.length)
  assert.deepEqual([...queue].slice(0, 3), [out.length, out.length + 1, out.length + 2])
  while (queue.length > 0) out.push(queue.shift()!)
  assert.deepEqual(
    out,
    Array.from({ length: 5_000 }, (_, i) => i),
  )
  assert.equal(queue.shift(), undefined)
})
