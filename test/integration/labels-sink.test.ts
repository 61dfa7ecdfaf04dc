import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import type { DeadLetter } from '../../src/core/records.js'
import { createPipeline } from '../../src/main.js'
import { labelsGroupId } from '../../topology/labels.js'
import {
  committedOffsets,
  readTopic,
  setCommittedOffsets,
  testTopics,
  useMockCluster,
  waitFor,
} from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()
const DAY_MS = 24 * 60 * 60 * 1000
const T0 = Date.parse('2025-03-01T00:00:00Z')

test('labels land in the labels table once each, bad ones in the dead-letter topic, and a restart that re-reads the topic adds no row', async (t) => {
  const topics = testTopics()
  const { config, cleanup } = testConfig({ 'kafka.topics': topics, 'clickhouse.lingerMs': 20, 'http.enabled': false })
  teardown(t, cleanup)
  const { log } = testLogger('warn')
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  const send = (key: string, value: unknown, timestampMs: number) =>
    new Promise<void>((resolve) =>
      producer.send(
        {
          topic: topics.labels,
          key,
          value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
          timestampMs,
        },
        resolve,
      ),
    )
  const label = (id: string, isFraud: boolean, source: string, reportedAtMs: number) => ({
    transaction_id: id,
    card_id: `card-${id}`,
    is_fraud: isFraud,
    source,
    reported_at: new Date(reportedAtMs).toISOString(),
  })

  // 40 transactions labelled once; tx-0 to tx-4 a second time, later, with the opposite verdict (an analyst
  // clearing a customer's report). Kafka timestamps are a minute after each report.
  const first = Array.from({ length: 40 }, (_, i) => label(`tx-${i}`, i % 4 === 0, 'customer', T0 + i * 1_000))
  const second = Array.from({ length: 5 }, (_, i) => label(`tx-${i}`, i % 4 !== 0, 'analyst', T0 + 3 * DAY_MS))
  for (const l of [...first, ...second]) await send(l.transaction_id, l, Date.parse(l.reported_at) + 60_000)
  await send('bad-1', label('bad-1', 'yes' as unknown as boolean, 'customer', T0), T0)
  await send('bad-2', label('bad-2', true, 'police', T0), T0)
  const sent = first.length + second.length
  await producer.flush()

  const rowsOf = async (pipeline: { clickhouse: Awaited<ReturnType<typeof createPipeline>>['clickhouse'] }) =>
    (
      await pipeline.clickhouse.query({
        query: `SELECT source_partition, source_offset, count() AS n FROM labels
                WHERE source_topic = {topic:String} GROUP BY source_partition, source_offset`,
        query_params: { topic: topics.labels },
        format: 'JSONEachRow',
      })
    ).json<{ source_partition: number; source_offset: string; n: string }>()

  const firstRun = await createPipeline({ config, kafka, log })
  teardown(t, () => firstRun.close())
  await waitFor(() => firstRun.labelsJob.stats.rows >= sent || firstRun.labelsJob.failure !== undefined, {
    timeoutMs: 30_000,
    what: 'every valid label in ClickHouse',
  })
  await firstRun.labelsJob.stop()
  assert.equal(firstRun.labelsJob.failure, undefined)
  assert.deepEqual(firstRun.labelsJob.stats, { consumed: sent + 2, invalid: 2, rows: sent, skipped: 0, stray: 0 })
  const rows = await rowsOf(firstRun)
  assert.equal(rows.length, sent, 'one row per label record')
  assert.deepEqual(
    rows.filter((r) => Number(r.n) !== 1),
    [],
  )
  const group = labelsGroupId(config)
  const committed = await committedOffsets(cluster.bootstrapServers, group, topics.labels)
  assert.equal(
    committed.reduce((sum: number, o) => sum + (o ?? 0), 0),
    sent + 2,
    'the labels group committed every record',
  )

  const dead = (await readTopic(cluster.bootstrapServers, topics.dlq)).map(
    (r) => JSON.parse(r.value.toString()) as DeadLetter,
  )
  await firstRun.close()
  assert.deepEqual(dead.map((d) => [d.topic, d.stage, d.reason]).sort(), [
    [topics.labels, 'decode-label', 'unknown_enum'],
    [topics.labels, 'decode-label', 'wrong_type'],
  ])
  assert.ok(dead.every((d) => d.error.message.length > 0))

  // A crash before the commit: the group's offsets back at 0, so the next member re-reads every label.
  await setCommittedOffsets(cluster.bootstrapServers, group, topics.labels, [0, 0, 0, 0])
  await send('tx-late', label('tx-late', true, 'chargeback', T0 + 10 * DAY_MS), T0 + 10 * DAY_MS)
  await producer.flush()
  const secondRun = await createPipeline({ config, kafka, log })
  teardown(t, () => secondRun.close())
  await waitFor(() => secondRun.labelsJob.stats.consumed >= sent + 3 || secondRun.labelsJob.failure !== undefined, {
    timeoutMs: 30_000,
    what: 'the restarted job to re-read the topic',
  })
  await secondRun.labelsJob.stop()
  assert.equal(secondRun.labelsJob.failure, undefined)
  assert.deepEqual(secondRun.labelsJob.stats, { consumed: sent + 3, invalid: 2, rows: 1, skipped: sent, stray: 0 })
  const after = await rowsOf(secondRun)
  assert.equal(after.length, sent + 1, 'only the new label was added')
  assert.deepEqual(
    after.filter((r) => Number(r.n) !== 1),
    [],
  )

  const latest = await (
    await secondRun.clickhouse.query({
      query: `SELECT transaction_id, is_fraud, source, labels FROM latest_labels
              WHERE run_id = 'live' AND transaction_id IN ('tx-0', 'tx-1', 'tx-5', 'tx-late') ORDER BY transaction_id`,
      format: 'JSONEachRow',
    })
  ).json<{ transaction_id: string; is_fraud: boolean; source: string; labels: string }>()
  assert.deepEqual(
    latest.map((r) => [r.transaction_id, r.is_fraud, r.source, Number(r.labels)]),
    [
      ['tx-0', false, 'analyst', 2],
      ['tx-1', true, 'analyst', 2],
      ['tx-5', false, 'customer', 1],
      ['tx-late', true, 'chargeback', 1],
    ],
    'the latest label of each transaction wins',
  )
})
