import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaSnapshotStore } from '../../src/adapters/kafka/kafka-snapshot-store.js'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { readTopic, useMockCluster } from '../helpers/kafka.js'
import { testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()

test('snapshots in a compacted topic: chunked, the newest at or below an offset wins, torn ones are skipped, old ones get tombstones', async (t) => {
  const { log } = testLogger()
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  const topic = `state-${Math.random().toString(36).slice(2)}`
  const partitions = await producer.partitionCount(topic)
  const options = {
    sink: producer,
    clientConfig: { 'bootstrap.servers': cluster.bootstrapServers },
    topic,
    partitions,
    keep: 2,
    chunkBytes: 1_000,
  }
  const store = new KafkaSnapshotStore(options)
  const tp = { topic: 'transactions', partition: 5 }
  const other = { topic: 'transactions', partition: 1 }
  const bytes = (seed: number, length: number) => Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) % 251))

  assert.equal(await store.loadLatest(tp, 1_000), undefined, 'nothing saved yet')
  await store.save(tp, 100, bytes(1, 2_500), 100)
  await store.save(tp, 200, bytes(2, 10), 200)
  await store.save(other, 150, bytes(3, 3_000), 150)
  assert.deepEqual(
    await store.loadLatest(tp, 199),
    { offset: 100, bytes: bytes(1, 2_500) },
    'three chunks put back together',
  )
  assert.deepEqual(await store.loadLatest(tp, 200), { offset: 200, bytes: bytes(2, 10) })
  assert.deepEqual(
    await store.loadLatest(other, 1_000),
    { offset: 150, bytes: bytes(3, 3_000) },
    'partitions do not mix, even in one state partition',
  )

  // A torn snapshot (a crash between chunks) is never loaded.
  producer.send(
    {
      topic,
      partition: tp.partition % partitions,
      key: `transactions/5/${String(300).padStart(20, '0')}/0/2`,
      value: Buffer.from('half'),
    },
    () => undefined,
  )
  await producer.flush()
  assert.equal((await store.loadLatest(tp, 1_000))?.offset, 200)

  await store.save(tp, 400, bytes(4, 1_200), 400)
  await producer.flush()
  // keep = 2: a fresh store (another instance) finds 200 and 400 only; 100's chunks were tombstoned.
  const fresh = new KafkaSnapshotStore(options)
  assert.equal((await fresh.loadLatest(tp, 399))?.offset, 200)
  assert.equal(await fresh.loadLatest(tp, 199), undefined, 'the oldest snapshot is gone')
  assert.deepEqual(await fresh.loadLatest(tp, 10_000), { offset: 400, bytes: bytes(4, 1_200) })
  const records = await readTopic(cluster.bootstrapServers, topic, { partitions })
  const tombstones = records.filter(
    (r) => r.key?.startsWith(`transactions/5/${String(100).padStart(20, '0')}/`) && r.value.length === 0,
  )
  assert.equal(tombstones.length, 3, 'one tombstone per chunk of the dropped snapshot')
  assert.ok(
    records.some((r) => r.key === `transactions/5/${String(300).padStart(20, '0')}/0/2` && r.value.length === 0),
    'the torn snapshot is deleted too',
  )

  // Commits stuck at 200 (a sink outage): 200 stays however many newer snapshots come, as the only one a restore can use.
  await fresh.save(tp, 500, bytes(5, 10), 200)
  await fresh.save(tp, 600, bytes(6, 10), 200)
  await producer.flush()
  const afterOutage = new KafkaSnapshotStore(options)
  assert.equal((await afterOutage.loadLatest(tp, 200))?.offset, 200)
  assert.equal((await afterOutage.loadLatest(tp, 10_000))?.offset, 600)
  assert.equal(
    (await afterOutage.loadLatest(tp, 499))?.offset,
    200,
    '400 was pruned: neither among the newest two nor the usable one',
  )
})
