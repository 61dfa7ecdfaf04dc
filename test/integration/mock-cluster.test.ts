import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startMockCluster } from '../../src/adapters/kafka/mock-cluster.js'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { KafkaSource } from '../../src/adapters/kafka/kafka-source.js'
import type { SourceRecord } from '../../src/core/ports.js'
import { readTopic, waitFor } from '../helpers/kafka.js'
import { testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

test('the mock cluster reports its brokers from metadata; records produced through it are read back, in a group and by assignment', async (t) => {
  const { log, lines } = testLogger('debug')
  const cluster = await startMockCluster({ brokers: 3 })
  teardown(t, () => cluster.close())
  assert.match(cluster.bootstrapServers, /^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/)

  const topic = `mock-${Math.random().toString(36).slice(2)}`
  await cluster.ensureTopics([topic])
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  assert.equal(await producer.partitionCount(topic), 4)
  let acked = 0
  for (let i = 0; i < 200; i++)
    producer.send({ topic, key: `card-${i % 17}`, value: Buffer.from(`tx-${i}`) }, () => acked++)
  await producer.flush()
  assert.equal(acked, 200)

  const received: SourceRecord[] = []
  const source = new KafkaSource({
    clientConfig: { 'bootstrap.servers': cluster.bootstrapServers },
    groupId: `group-${topic}`,
    topics: [topic],
    autoOffsetReset: 'earliest',
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    consumeBatchSize: 100,
    log,
  })
  teardown(t, () => source.stop())
  await source.start({
    onRecords: (records) => void received.push(...records),
    onCommitted: () => undefined,
    onRevoke: async () => undefined,
    onError: (err) => assert.fail(err),
    onAssign: async (partitions) => partitions.map((p) => ({ ...p, offset: 0 })),
  })
  await waitFor(() => received.length >= 200, { timeoutMs: 30_000, what: 'the group member to read all 200 records' })
  assert.deepEqual(
    new Set(received.map((r) => r.value!.toString())),
    new Set(Array.from({ length: 200 }, (_, i) => `tx-${i}`)),
  )

  const read = await readTopic(cluster.bootstrapServers, topic)
  assert.equal(read.length, 200)
  assert.deepEqual(
    lines.filter((l) => typeof l.level === 'number' && l.level >= 40),
    [],
    'no warning or error was logged',
  )
})
