import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { OutgoingRecord, RecordSink } from '../../../src/core/ports.js'
import { SlicedSink } from '../../../src/runtime/sliced-sink.js'

const tick = () => new Promise((resolve) => setImmediate(resolve))

function recording(): RecordSink & { sent: string[]; flushed: number } {
  return {
    sent: [],
    flushed: 0,
    send(record: OutgoingRecord, onAck: () => void) {
      if (record.key === 'bad') throw new Error('refused')
      this.sent.push(String(record.key))
      onAck()
    },
    async flush() {
      this.flushed++
    },
    async close() {},
  }
}

test('records go out in the order given, a turn later, at most the budget per turn, and flush waits for them all', async () => {
  const inner = recording()
  let nowMs = 0
  // Each send costs 0.25 ms of the fake clock: 2 ms a turn is 8 of them, checked every 16 sends, so 16 a turn.
  const sink = new SlicedSink(
    {
      send: (record, onAck) => {
        nowMs += 0.25
        inner.send(record, onAck)
      },
      flush: () => inner.flush(),
      close: () => inner.close(),
    },
    { budgetMs: 2, nowMs: () => nowMs, onError: (err) => assert.fail(String(err)) },
  )
  let acked = 0
  for (let i = 0; i < 40; i++) sink.send({ topic: 't', key: `k${i}`, value: null }, () => acked++)
  // A function is made into its record only when its turn comes.
  let made = 0
  sink.send(
    () => {
      made++
      return { topic: 't', key: 'made', value: null }
    },
    () => acked++,
  )
  assert.equal(inner.sent.length, 0, 'nothing is sent in the turn that gave it')
  assert.equal(sink.queued, 41)
  await tick()
  assert.equal(inner.sent.length, 16)
  assert.equal(made, 0)
  await tick()
  assert.equal(inner.sent.length, 32)
  await sink.flush()
  assert.deepEqual(inner.sent, [...Array.from({ length: 40 }, (_, i) => `k${i}`), 'made'])
  assert.equal(made, 1)
  assert.equal(acked, 41)
  assert.equal(inner.flushed, 1)
  assert.equal(sink.queued, 0)
})

test('a send that throws is reported, and the records after it still go out', async () => {
  const inner = recording()
  const errors: unknown[] = []
  const sink = new SlicedSink(inner, { onError: (err) => errors.push(err) })
  for (const key of ['a', 'bad', 'b']) sink.send({ topic: 't', key, value: null }, () => {})
  await sink.flush()
  assert.deepEqual(inner.sent, ['a', 'b'])
  assert.equal(errors.length, 1)
  assert.match(String(errors[0]), /refused/)
})
