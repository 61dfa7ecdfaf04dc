import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Stage } from '../../../src/core/stage.js'
import { topology } from '../../../src/core/topology.js'
import { ManualTime } from '../../../src/testing/manual-time.js'
import { MemoryRecordSink } from '../../../src/testing/memory-sinks.js'
import { TopologyTestDriver } from '../../../src/testing/topology-test-driver.js'

test('every record is timed per stage: its queue wait, each node up to the next (a batch wait included), a sink ack', async () => {
  const time = new ManualTime()
  const timed: { stage: string; ms: number; records: number }[] = []
  // A batched stage whose work takes 7 ms of the manual clock.
  let finish: () => void = () => {}
  const infer: Stage<unknown, unknown> = {
    name: 'infer',
    process: (batch, ctx) =>
      new Promise<void>((resolve) => {
        finish = () => {
          for (const item of batch) ctx.emit(item, item.value)
          resolve()
        }
      }),
  }
  const acks: (() => void)[] = []
  const sink = new MemoryRecordSink()
  const out: Stage<unknown, unknown> = {
    name: 'out',
    process(batch, ctx) {
      for (const item of batch) {
        acks.push(ctx.hold(item, 'ack'))
        sink.send({ topic: 'out', key: null, value: null }, () => {})
        ctx.emit(item, item.value)
      }
    },
  }
  const graph = topology('timed')
    .source('in', 'in', 'records')
    .map('pass', { name: 'pass', process: (batch, ctx) => batch.forEach((item) => ctx.emit(item, item.value)) }, '')
    .infer('infer', infer, '', { maxRecords: 100, lingerMs: 5 })
    .sink('out', out, '')
    .deadLetters({ name: 'dlq', what: 'unused', send: () => {} })
  const driver = await TopologyTestDriver.create({
    topology: graph,
    partitions: 1,
    stats: () => ({}),
    time,
    observe: { durationOf: (stage) => (ms, records) => timed.push({ stage, ms, records }) },
  })
  time.advance(1_000)
  // Three records sent 30 ms before the poll (their Kafka timestamps), polled together.
  const sentAtMs = time.wallMs() - 30
  await driver.pipe([0, 1, 2].map(() => ({ partition: 0, key: null, value: null, timestampMs: sentAtMs })))
  await driver.advance(5) // the linger cuts the batch
  await driver.advance(7) // inference takes 7 ms
  finish()
  await driver.settle()
  await driver.advance(4) // the sink acknowledges 4 ms after the send
  for (const ack of acks) ack()
  const total = (stage: string) => timed.filter((t) => t.stage === stage).map(({ ms, records }) => ({ ms, records }))
  assert.deepEqual(total('queue'), [
    { ms: 30, records: 1 },
    { ms: 30, records: 1 },
    { ms: 30, records: 1 },
  ])
  assert.deepEqual(total('pass'), [{ ms: 0, records: 3 }])
  assert.deepEqual(total('infer:batch'), [{ ms: 5, records: 3 }], 'the wait for the batch to be cut')
  assert.deepEqual(total('infer'), [{ ms: 12, records: 3 }], 'the batch wait and the inference')
  assert.deepEqual(total('out:ack'), [
    { ms: 4, records: 1 },
    { ms: 4, records: 1 },
    { ms: 4, records: 1 },
  ])
  await driver.close()
})

test('a batched node with lingerMs 0 runs what one poll brought at once, in batches of at most maxRecords', async () => {
  const batches: number[] = []
  const graph = topology('per-poll')
    .source('in', 'in', 'records')
    .infer('infer', { name: 'infer', process: (batch) => void batches.push(batch.length) }, '', {
      maxRecords: 4,
      lingerMs: 0,
    })
    .deadLetters({ name: 'dlq', what: 'unused', send: () => {} })
  const driver = await TopologyTestDriver.create({ topology: graph, partitions: 1, stats: () => ({}) })
  await driver.pipe([0, 1, 2, 3, 4, 5].map(() => ({ partition: 0, key: null, value: null, timestampMs: 1 })))
  assert.deepEqual(batches, [4, 2], 'no clock moved: nothing waited for a linger timer')
  await driver.pipe([{ partition: 0, key: null, value: null, timestampMs: 1 }])
  assert.deepEqual(batches, [4, 2, 1])
  await driver.close()
})
