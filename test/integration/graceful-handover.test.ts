import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import type { DecisionV1 } from '../../src/core/records.js'
import { publishGenerated } from '../../src/generator/publish.js'
import { TransactionGenerator, type GeneratedRecord } from '../../src/generator/transaction-generator.js'
import { createPipeline } from '../../src/main.js'
import { committedOffsets, endOffsets, readTopic, testTopics, useMockCluster, waitFor } from '../helpers/kafka.js'
import { compareWithUninterruptedRun } from '../helpers/features.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()

for (const stateStore of ['files', 'kafka'] as const) {
  test(`a job stopped gracefully mid-stream hands over to a new member of the group: one score row and one decision per transaction, state restored from its snapshot (${stateStore})`, async (t) => {
    const topics = testTopics()
    // Labels reach every labels partition only seconds into a 1,500/s run: transactions wait for complete tables
    // rather than the default 10 s (see the rebalance test).
    const { config, cleanup } = testConfig({
      'kafka.topics': topics,
      'runtime.stateStore': stateStore,
      'lookups.maxWaitMs': 60_000,
    })
    teardown(t, cleanup)
    const { log, lines } = testLogger()
    const kafka = { bootstrapServers: cluster.bootstrapServers }
    const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
    teardown(t, () => producer.close())

    const first = await createPipeline({ config, kafka, log, instanceId: 'first' })
    teardown(t, () => first.close())
    let second: Awaited<ReturnType<typeof createPipeline>> | undefined
    const consumed = () => first.job.stats.consumed + (second?.job.stats.consumed ?? 0)
    const sent: GeneratedRecord[] = []
    const publishing = publishGenerated({
      generator: new TransactionGenerator({ seed: 5, duplicateRate: 0.02, invalidRate: 0.005 }),
      sink: producer,
      topics,
      count: 12_000,
      rate: 1_500,
      maxLead: { records: 15_000, consumed },
      onRecord: (r) => void sent.push(r),
    })
    await waitFor(() => first.job.stats.consumed >= 2_000, { timeoutMs: 60_000, what: 'the first job to get going' })
    await first.close()
    assert.ok(first.job.stats.consumed < 12_000, 'the first job stopped mid-stream')
    const firstMetrics = await first.metrics.registry.metrics()
    for (const series of [
      'consumer_lag_records',
      'window_state_bytes',
      'watermark_lag_seconds',
      'dedupe_ids',
      'state_snapshot_bytes',
    ]) {
      assert.ok(
        !firstMetrics.includes(`fraudstream_${series}{partition=`),
        `${series}: no series left for partitions the first job gave up`,
      )
    }

    second = await createPipeline({ config, kafka, log, instanceId: 'second' })
    teardown(t, () => second?.close())
    await publishing
    await waitFor(() => consumed() >= 12_000 || second!.job.failure !== undefined, {
      timeoutMs: 120_000,
      what: 'the second job to consume the rest',
    })
    // Exported at least every second: wait for a report after the last records.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const secondMetrics = await second.metrics.registry.metrics()
    for (const series of ['watermark_lag_seconds', 'dedupe_ids', 'window_state_allocated_bytes'])
      assert.match(secondMetrics, new RegExp(`fraudstream_${series}\\{partition="\\d+"\\} [0-9.e+]+`), series)
    await second.job.stop()
    assert.equal(second.job.failure, undefined)

    assert.equal(consumed(), 12_000, 'no record consumed twice as live, none skipped')
    const assigned = lines.filter(
      (l) => l.msg === 'partition assigned' && l.topic === topics.transactions && l.committed !== null,
    )
    assert.ok(
      assigned.length > 0 && assigned.every((l) => l.snapshotOffset === l.committed),
      'the second job loaded the snapshots the first one wrote at its final commit',
    )
    assert.equal(second.job.stats.restored, 0, 'so it replayed nothing')
    const validIds = new Set(sent.flatMap((r) => (r.intent.kind === 'valid' ? [r.intent.transactionId] : [])))
    const duplicates = first.job.stats.duplicates + second.job.stats.duplicates
    assert.equal(
      duplicates,
      sent.filter((r) => r.intent.kind === 'duplicate').length,
      'duplicates across the handover were caught by the rebuilt dedupe state',
    )

    const rows = await (
      await second.clickhouse.query({
        query: `SELECT transaction_id, count() AS n FROM scores WHERE source_topic = {topic:String} GROUP BY transaction_id`,
        query_params: { topic: topics.transactions },
        format: 'JSONEachRow',
      })
    ).json<{ transaction_id: string; n: string }>()
    assert.equal(rows.length, validIds.size)
    assert.deepEqual(
      rows.filter((r) => Number(r.n) !== 1),
      [],
      'exactly one score row per transaction',
    )
    const decisions = (await readTopic(cluster.bootstrapServers, topics.decisions)).map(
      (r) => JSON.parse(r.value.toString()) as DecisionV1,
    )
    assert.equal(new Set(decisions.map((d) => d.transaction_id)).size, validIds.size)
    assert.equal(decisions.length, validIds.size, 'a graceful handover produces no duplicate decisions')
    assert.deepEqual(
      await committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topics.transactions),
      await endOffsets(cluster.bootstrapServers, topics.transactions),
    )
    assert.ok(
      lines.some((l) => l.msg === 'partition revoked' && l.drained === true),
      'the first job drained before giving its partitions up',
    )

    // Restored state must give the features an uninterrupted run gives: recompute offline, in send order, with the
    // same PartitionState code path, and compare every vector.
    const run = await compareWithUninterruptedRun({
      client: second.clickhouse,
      config,
      topic: topics.transactions,
      sent,
    })
    assert.equal(run.rows, run.expected)
    assert.deepEqual(
      run.differing.slice(0, 3),
      [],
      `${run.differing.length} feature vectors differ from an uninterrupted run: ${run.differences.join('; ')}`,
    )
  })
}
