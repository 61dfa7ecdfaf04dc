import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SourceRecord } from '../../../src/core/ports.js'
import { topology } from '../../../src/core/topology.js'
import type { Stage } from '../../../src/core/stage.js'
import { TopologyTestDriver } from '../../../src/testing/topology-test-driver.js'
import { MemoryRecordSink } from '../../../src/testing/memory-sinks.js'

/** A topology that counts records per partition (state that replays rebuild) and forwards them to a memory sink. */
function countingTopology(sink: MemoryRecordSink) {
  const counts = new Map<number, number>()
  const count: Stage<SourceRecord, SourceRecord> = {
    name: 'count',
    restore: (tp, snapshot) => void counts.set(tp.partition, (snapshot as number | undefined) ?? 0),
    snapshot: (tp) => counts.get(tp.partition),
    process(batch, ctx) {
      for (const item of batch) {
        counts.set(item.origin.partition, counts.get(item.origin.partition)! + 1)
        ctx.emit(item, item.value)
      }
    },
  }
  const out: Stage<SourceRecord, SourceRecord> = {
    name: 'out',
    process(batch, ctx) {
      for (const item of batch) sink.send({ topic: 'out', key: null, value: item.value.value }, ctx.hold(item))
    },
  }
  const graph = topology('counting')
    .source('in', 'in', 'records')
    .map('count', count, 'counts per partition')
    .sink('out', out, 'to memory')
    .deadLetters({ name: 'dlq', what: 'unused', send: () => {} })
  return { graph, counts }
}

test('/ready stays false until the member has partitions assigned and restored, not merely subscribed', async () => {
  const sink = new MemoryRecordSink()
  const { graph, counts } = countingTopology(sink)
  const driver = await TopologyTestDriver.create({ topology: graph, partitions: 1, stats: () => ({}), assign: false })
  for (let i = 0; i < 10; i++) driver.source.append(0, { key: null, value: Buffer.from(String(i)), timestampMs: i })
  await driver.source.commit([{ topic: 'in', partition: 0, offset: 6 }], { sync: true })
  assert.equal(driver.job.ready, false, 'started and subscribed, nothing assigned')
  await driver.source.assign([0])
  assert.equal(driver.job.ready, false, 'assigned, records below the committed offset still to replay')
  driver.source.poll(3)
  assert.equal(driver.job.ready, true, 'restored: every record below the committed offset replayed')
  await driver.settle()
  // The replayed records rebuilt the state and reached no sink; the live ones did, once each.
  assert.equal(counts.get(0), 10)
  assert.deepEqual(
    sink.records.map((r) => r.value!.toString()),
    ['6', '7', '8', '9'],
  )
  await driver.close()
  assert.equal(driver.source.committedOffset(0), 10)
  assert.equal(driver.job.ready, false, 'stopped')
})

test('an item is committed only after every sink acknowledged it, in offset order', async () => {
  const sink = new MemoryRecordSink({ manualAcks: true })
  const { graph } = countingTopology(sink)
  const driver = await TopologyTestDriver.create({ topology: graph, partitions: 1, stats: () => ({}) })
  await driver.pipe([0, 1, 2].map((i) => ({ partition: 0, key: null, value: Buffer.from(String(i)), timestampMs: i })))
  await driver.advance(200)
  assert.equal(driver.source.committedOffset(0), undefined, 'nothing acknowledged, nothing committed')
  sink.release()
  await driver.advance(200)
  assert.equal(driver.source.committedOffset(0), 3)
  await driver.close()
})

test('an operator pause stops consumption until resumed, whatever backpressure says, and covers partitions assigned meanwhile', async () => {
  const sink = new MemoryRecordSink()
  const { graph } = countingTopology(sink)
  const driver = await TopologyTestDriver.create({ topology: graph, partitions: 2, stats: () => ({}), assign: false })
  await driver.source.assign([0])
  assert.equal(driver.job.pause(), true)
  assert.equal(driver.job.pause(), false, 'a second pause changes nothing')
  assert.equal(driver.job.paused, true)
  await driver.source.assign([1])
  await driver.advance(50)
  for (const partition of [0, 1])
    driver.source.append(partition, { key: null, value: Buffer.from(`p${partition}`), timestampMs: 1 })
  assert.equal(driver.source.poll(), 0, 'nothing handed over while paused, the partition assigned since included')
  await driver.advance(200)
  assert.equal(driver.source.poll(), 0, 'backpressure ticks do not resume an operator pause')
  assert.equal(driver.job.resume(), true)
  assert.equal(driver.job.paused, false)
  assert.equal(driver.source.poll(), 2)
  await driver.settle()
  assert.deepEqual(sink.records.map((r) => r.value!.toString()).sort(), ['p0', 'p1'])
  await driver.close()
})
