import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import type { DecisionV1 } from '../../src/core/records.js'
import { TransactionGenerator } from '../../src/generator/transaction-generator.js'
import { createPipeline } from '../../src/main.js'
import { readTopic, waitFor, useMockCluster } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()

/** PartitionState checks the budget every 5,000 windowed records: one partition gets enough for a check. */
const TRANSACTIONS = 6_000
/** Thousands of cards hold megabytes: a budget this small bites at the first check. */
const MAX_STATE_BYTES = 64 * 1024

test('a window-state budget that bites is counted in fraudstream_window_budget_evictions_total and logged at warn with partition and evicted, and every transaction is still scored once', async (t) => {
  const topics = {
    transactions: `tx-${Math.random().toString(36).slice(2)}`,
    decisions: 'decisions-budget',
    alerts: 'alerts-budget',
    dlq: 'dlq-budget',
    labels: 'labels-budget',
  }
  const { config, cleanup } = testConfig({
    'kafka.topics': topics,
    'windows.maxStateBytesPerPartition': MAX_STATE_BYTES,
  })
  teardown(t, cleanup)
  const { log, lines } = testLogger()
  const pipeline = await createPipeline({ config, kafka: { bootstrapServers: cluster.bootstrapServers }, log })
  teardown(t, () => pipeline.close())
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())

  // Valid, unique transactions of many cards, all under one key: one partition holds every card, so its state goes
  // over budget with few records (spread over four partitions, none would reach a check).
  const generator = new TransactionGenerator({ seed: 23 })
  const ids: string[] = []
  let acked = 0
  while (ids.length < TRANSACTIONS) {
    const record = generator.next()
    if (record.topic !== 'transactions' || record.intent.kind !== 'valid') continue
    ids.push(record.intent.transactionId)
    producer.send(
      {
        topic: topics.transactions,
        key: 'window-budget',
        value: record.value,
        timestampMs: Math.floor(record.eventTimeMs),
      },
      () => acked++,
    )
  }
  await producer.flush()
  assert.equal(acked, TRANSACTIONS)

  await waitFor(() => pipeline.job.stats.consumed >= TRANSACTIONS || pipeline.job.failure !== undefined, {
    timeoutMs: 60_000,
    what: 'the job to consume every record',
  })
  // Stopping reports every partition's state a last time, so the metric and the log have every eviction.
  await pipeline.job.stop()
  assert.equal(pipeline.job.failure, undefined, 'a budget that bites never fails the job')
  assert.equal(pipeline.job.stats.scored, TRANSACTIONS)

  const metrics = await (await fetch(`${pipeline.http!.url}/metrics`)).text()
  const series = [...metrics.matchAll(/^fraudstream_window_budget_evictions_total\{partition="(\d+)"\} (\d+)$/gm)].map(
    ([, partition, value]) => ({ partition: Number(partition), evicted: Number(value) }),
  )
  const evictedTotal = series.reduce((sum, s) => sum + s.evicted, 0)
  assert.ok(evictedTotal > 0, `cards evicted by the budget: ${JSON.stringify(series)}`)

  const warnings = lines.filter(
    (l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('window state over budget'),
  )
  assert.ok(warnings.length > 0, 'a warn line for the evictions')
  for (const w of warnings) {
    assert.equal(typeof w.partition, 'number')
    assert.ok(typeof w.evicted === 'number' && w.evicted > 0, 'each line says how many cards went')
    assert.equal(w.maxStateBytes, MAX_STATE_BYTES)
  }
  assert.deepEqual(
    [...new Set(warnings.map((w) => w.partition))].sort(),
    series
      .filter((s) => s.evicted > 0)
      .map((s) => s.partition)
      .sort(),
    'the lines name the partitions the metric counts',
  )
  assert.equal(
    warnings.reduce((sum, w) => sum + (w.evicted as number), 0),
    evictedTotal,
    'the lines add up to the metric',
  )

  const decisions = (await readTopic(cluster.bootstrapServers, topics.decisions)).map(
    (r) => JSON.parse(r.value.toString()) as DecisionV1,
  )
  assert.equal(decisions.length, TRANSACTIONS, 'one decision per transaction')
  assert.deepEqual(
    new Set(decisions.map((d) => d.transaction_id)),
    new Set(ids),
    'no transaction decided twice, none missing',
  )
})
