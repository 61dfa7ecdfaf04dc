import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { KafkaSource } from '../../src/adapters/kafka/kafka-source.js'
import type { SourceHandlers } from '../../src/core/ports.js'
import { useMockCluster, waitFor } from '../helpers/kafka.js'
import { testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()

test('a member whose assignment failed holds no partition: a healthy member that joins takes them all', async (t) => {
  const { log } = testLogger()
  const topic = `source-${Math.random().toString(36).slice(2)}`
  const groupId = `group-${topic}`
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  assert.equal(await producer.partitionCount(topic), 4, 'the mock creates the topic when asked for its metadata')
  const member = (handlers: Partial<SourceHandlers>) => {
    const source = new KafkaSource({
      clientConfig: { 'bootstrap.servers': cluster.bootstrapServers },
      groupId,
      topics: [topic],
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      consumeBatchSize: 100,
      log,
    })
    const errors: Error[] = []
    const started = source.start({
      onRecords: () => undefined,
      onCommitted: () => undefined,
      onRevoke: async () => undefined,
      onError: (err) => void errors.push(err),
      onAssign: async (partitions) => partitions.map((p) => ({ ...p, offset: 0 })),
      ...handlers,
    })
    return { source, errors, started }
  }

  const broken = member({ onAssign: async () => Promise.reject(new Error('state store unreadable')) })
  teardown(t, () => broken.source.stop())
  await broken.started
  await waitFor(() => broken.errors.length > 0, { timeoutMs: 30_000, what: 'the failed assignment to be reported' })
  assert.match(broken.errors[0]!.message, /rebalance handling failed: state store unreadable/)

  // The failed member never answers its assignment, so it takes no part in the next rebalance and drops out of the
  // group: all its partitions move. (Answering with an empty assignment instead kept half of them, unconsumed, with
  // the failed member until its process ended.)
  const owned = new Set<number>()
  const healthy = member({
    onAssign: async (partitions) => {
      for (const p of partitions) owned.add(p.partition)
      return partitions.map((p) => ({ ...p, offset: 0 }))
    },
    onRevoke: async (partitions) => void partitions.forEach((p) => owned.delete(p.partition)),
  })
  teardown(t, () => healthy.source.stop())
  await healthy.started
  await waitFor(() => owned.size === 4, {
    timeoutMs: 45_000,
    what: 'the healthy member to be given all four partitions',
  })
  assert.deepEqual(healthy.errors, [])
})
