import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { startMockCluster, type MockCluster } from '../../src/adapters/kafka/mock-cluster.js'
import { publishGenerated } from '../../src/generator/publish.js'
import { TransactionGenerator, type GeneratedRecord } from '../../src/generator/transaction-generator.js'
import { createPipeline, type Pipeline } from '../../src/main.js'
import { PartitionState, partitionStateOptions } from '../../src/runtime/partition-state.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { committedOffsets, endOffsets, waitFor } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'

let cluster: MockCluster
before(async () => {
  cluster = await startMockCluster()
})
after(async () => {
  await cluster.close()
})

test('two members split the partitions, a third joins mid-stream and one leaves: one score row per transaction, every feature vector as in an uninterrupted run', async (t) => {
  const topics = { transactions: `tx-${Math.random().toString(36).slice(2)}`, decisions: 'decisions-rebalance', alerts: 'alerts-rebalance', dlq: 'dlq-rebalance', labels: 'labels-rebalance' }
  const { config, cleanup } = testConfig({ 'kafka.topics': topics, 'runtime.snapshotIntervalMs': 1_000 })
  t.after(cleanup)
  const { log, lines } = testLogger()
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  const members: Pipeline[] = []
  t.after(async () => {
    for (const member of members) await member.close()
  })
  const consumed = () => members.reduce((sum, m) => sum + m.job.stats.consumed, 0)
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  t.after(() => producer.close())

  members.push(await createPipeline({ config, kafka, log, instanceId: 'a' }), await createPipeline({ config, kafka, log, instanceId: 'b' }))
  const sent: GeneratedRecord[] = []
  const publishing = publishGenerated({
    generator: new TransactionGenerator({ seed: 77, duplicateRate: 0.01 }),
    sink: producer,
    topics,
    count: 24_000,
    rate: 2_000,
    maxLead: { records: 15_000, consumed },
    onRecord: (r) => void (r.topic === 'transactions' && sent.push(r)),
  })
  await waitFor(() => members.every((m) => m.job.partitions().length > 0), { timeoutMs: 60_000, what: 'both members to own partitions' })
  await waitFor(() => consumed() >= 6_000, { timeoutMs: 60_000, what: 'progress before the third member joins' })
  members.push(await createPipeline({ config, kafka, log, instanceId: 'c' }))
  await waitFor(() => members[2]!.job.partitions().length > 0, { timeoutMs: 60_000, what: 'the third member to receive partitions' })
  await waitFor(() => consumed() >= 14_000, { timeoutMs: 60_000, what: 'progress before a member leaves' })
  await members[0]!.close()
  await publishing
  const ends = await endOffsets(cluster.bootstrapServers, topics.transactions)
  let committed: (number | undefined)[] = []
  try {
    await waitFor(async () => {
      committed = await committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topics.transactions)
      return committed.every((c, p) => c === ends[p])
    }, { timeoutMs: 60_000, what: 'every partition committed to its end' })
  } catch (err) {
    process.stdout.write(`# ends ${JSON.stringify(ends)} committed ${JSON.stringify(committed)}\n`)
    for (const l of lines.filter((x) => /partition|commit|rebalance/.test(String(x.msg)))) process.stdout.write(`# ${JSON.stringify(l)}\n`)
    for (const m of members) process.stdout.write(`# member ${JSON.stringify(m.job.partitions())} inflight ${m.job.inFlight}\n`)
    throw err
  }
  for (const member of members) await member.job.stop()
  for (const member of members) assert.equal(member.job.failure, undefined)

  const revoked = lines.filter((l) => l.msg === 'partition revoked')
  assert.ok(revoked.length >= 2 && revoked.every((l) => l.drained === true), 'every revoked partition was drained before it moved')
  const reference = new PartitionState(partitionStateOptions(config, cardFraudFeatures))
  const expected = new Map<string, string>()
  for (const record of sent) {
    const processed = reference.process(record.value)
    if (processed.kind === 'features') expected.set(processed.tx.transaction_id, JSON.stringify(Array.from(processed.row)))
  }
  const names = cardFraudFeatures.map((f) => f.name)
  const rows = await (await members[1]!.clickhouse.query({ query: 'SELECT transaction_id, features FROM scores WHERE source_topic = {topic:String}', query_params: { topic: topics.transactions }, format: 'JSONEachRow' })).json<{ transaction_id: string; features: Record<string, number> }>()
  const counts = new Map<string, number>()
  for (const row of rows) counts.set(row.transaction_id, (counts.get(row.transaction_id) ?? 0) + 1)
  assert.equal(counts.size, expected.size, 'every transaction scored')
  assert.deepEqual([...counts].filter(([, n]) => n !== 1).slice(0, 3), [], 'no transaction scored twice')
  const differing = rows.filter((r) => JSON.stringify(names.map((n) => r.features[n])) !== expected.get(r.transaction_id))
  assert.deepEqual(differing.slice(0, 3).map((r) => r.transaction_id), [], `${differing.length} vectors differ`)
})
