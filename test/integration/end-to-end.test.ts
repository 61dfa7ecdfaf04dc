import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { paramDefaultsOf } from '../../src/cli/sql.js'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import type { DeadLetter, DecisionV1 } from '../../src/core/records.js'
import { publishGenerated } from '../../src/generator/publish.js'
import { TransactionGenerator, type GeneratedRecord } from '../../src/generator/transaction-generator.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { createPipeline } from '../../src/main.js'
import { readRegistry } from '../../src/adapters/onnx/model-package.js'
import { lineupOf } from '../../src/models/lineup.js'
import { featureContractHash } from '../../src/stages/features/feature-definition.js'
import { OnnxScorer } from '../../src/adapters/onnx/onnx-scorer.js'
import { committedOffsets, endOffsets, readTopic, waitFor, useMockCluster } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const QUERIES_DIR = fileURLToPath(new URL('../../clickhouse/queries/', import.meta.url))
const EVERY_RUN_HAS_ROWS = [
  'decision-mix.sql',
  'duplicates-check.sql',
  'event-latency.sql',
  'latency.sql',
  'reason-codes.sql',
  'top-declines.sql',
  'alert-volume.sql',
]
const cluster = useMockCluster()

test('20,000 transactions with 1 % invalid and 1 % duplicates: one decision and one score row per valid unique transaction, every invalid one dead-lettered, offsets committed to the end', async (t) => {
  const topics = {
    transactions: `tx-${Math.random().toString(36).slice(2)}`,
    decisions: 'decisions-e2e',
    alerts: 'alerts-e2e',
    dlq: 'dlq-e2e',
    labels: 'labels-e2e',
  }
  const { config, cleanup } = testConfig({ 'kafka.topics': topics })
  teardown(t, cleanup)
  const { log } = testLogger()
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  const pipeline = await createPipeline({ config, kafka, log })
  teardown(t, () => pipeline.close())
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())

  const sent: GeneratedRecord[] = []
  const generator = new TransactionGenerator({ seed: 11, invalidRate: 0.01, duplicateRate: 0.01 })
  const published = await publishGenerated({
    generator,
    sink: producer,
    topics,
    count: 20_000,
    rate: 'max',
    maxLead: { records: 15_000, consumed: () => pipeline.job.stats.consumed },
    onRecord: (r) => void (r.topic === 'transactions' && sent.push(r)),
  })
  assert.equal(published.transactions, 20_000)
  await waitFor(() => pipeline.job.stats.consumed >= 20_000 || pipeline.job.failure !== undefined, {
    timeoutMs: 120_000,
    what: 'the job to consume every record',
  })
  assert.equal(pipeline.job.failure, undefined)
  const ready = await fetch(`${pipeline.http!.url}/ready`)
  assert.equal(ready.status, 200, 'ready once partitions are assigned and restored')
  assert.equal((await fetch(`${pipeline.http!.url}/health`)).status, 200)
  await pipeline.job.stop()
  assert.equal((await fetch(`${pipeline.http!.url}/ready`)).status, 503, 'not ready after stopping')

  const validIds = new Set(sent.flatMap((r) => (r.intent.kind === 'valid' ? [r.intent.transactionId] : [])))
  const invalidSent = sent.filter((r) => r.intent.kind === 'invalid')
  const duplicatesSent = sent.filter((r) => r.intent.kind === 'duplicate').length
  assert.ok(
    invalidSent.length > 100 && duplicatesSent > 100,
    `the generator injected ${invalidSent.length} invalid and ${duplicatesSent} duplicates`,
  )

  const stats = pipeline.job.stats
  assert.equal(stats.consumed, 20_000)
  assert.equal(stats.invalid, invalidSent.length)
  assert.equal(stats.duplicates, duplicatesSent)
  assert.equal(stats.scored, validIds.size)

  const decisions = (await readTopic(cluster.bootstrapServers, topics.decisions)).map(
    (r) => JSON.parse(r.value.toString()) as DecisionV1,
  )
  const decisionCounts = new Map<string, number>()
  for (const d of decisions) decisionCounts.set(d.transaction_id, (decisionCounts.get(d.transaction_id) ?? 0) + 1)
  assert.equal(decisions.length, validIds.size, 'one decision per valid unique transaction')
  assert.deepEqual(
    [...decisionCounts.values()].filter((n) => n !== 1),
    [],
    'no transaction decided twice',
  )
  for (const id of validIds) assert.ok(decisionCounts.has(id), `decision for ${id}`)
  const declines = decisions.filter((d) => d.decision === 'decline')
  const alerts = await readTopic(cluster.bootstrapServers, topics.alerts)
  assert.equal(alerts.length, declines.length, 'one alert per decline')

  const rows = await (
    await pipeline.clickhouse.query({
      query: `SELECT transaction_id, count() AS n FROM scores WHERE source_topic = {topic:String} GROUP BY transaction_id`,
      query_params: { topic: topics.transactions },
      format: 'JSONEachRow',
    })
  ).json<{ transaction_id: string; n: string }>()
  assert.equal(rows.length, validIds.size, 'one score row per valid unique transaction')
  assert.deepEqual(
    rows.filter((r) => Number(r.n) !== 1),
    [],
  )
  const [featureRow] = await (
    await pipeline.clickhouse.query({
      query: `SELECT features['card_count_24h'] AS c, length(mapKeys(features)) AS k FROM scores WHERE source_topic = {topic:String} LIMIT 1`,
      query_params: { topic: topics.transactions },
      format: 'JSONEachRow',
    })
  ).json<{ c: number; k: string }>()
  assert.ok(
    featureRow && Number(featureRow.k) === cardFraudFeatures.length && featureRow.c >= 1,
    'every row carries its named features',
  )

  // Each decision's score is the model run on the feature row logged for it: a batch mix-up (scores applied to the
  // wrong transactions) would pass every count above.
  const logged = await (
    await pipeline.clickhouse.query({
      query: `SELECT transaction_id, score, features FROM scores WHERE source_topic = {topic:String} ORDER BY source_partition, source_offset`,
      query_params: { topic: topics.transactions },
      format: 'JSONEachRow',
    })
  ).json<{ transaction_id: string; score: number; features: Record<string, number> }>()
  const scorer = new OnnxScorer(
    lineupOf(readRegistry(config.model.dir), {
      modelsDir: config.model.dir,
      contract: { hash: featureContractHash(cardFraudFeatures), names: cardFraudFeatures.map((f) => f.name) },
      thresholds: config.thresholds,
    }),
    { threads: 1 },
  )
  teardown(t, () => scorer.close())
  const names = scorer.featureNames
  const batch = new Float32Array(logged.length * names.length)
  logged.forEach((row, i) => names.forEach((name, j) => (batch[i * names.length + j] = row.features[name]!)))
  const rescored = (await scorer.score(batch, logged.length)).models[0]!.scores
  const decidedScore = new Map(decisions.map((d) => [d.transaction_id, d.score]))
  const off = logged.filter(
    (row, i) =>
      Math.abs(decidedScore.get(row.transaction_id)! - rescored[i]!) > 1e-6 ||
      Math.abs(row.score - rescored[i]!) > 1e-6,
  )
  assert.deepEqual(off.slice(0, 3), [], `${off.length} decisions whose score is not the model on their logged features`)
  assert.ok(new Set(rescored).size > logged.length / 2, 'scores differ between transactions, so a swap would show')

  const dead = (await readTopic(cluster.bootstrapServers, topics.dlq)).map(
    (r) => JSON.parse(r.value.toString()) as DeadLetter,
  )
  assert.equal(dead.length, invalidSent.length, 'every invalid record is in the DLQ')
  for (const letter of dead) {
    assert.ok(letter.reason && letter.error.message, 'each dead letter has a reason and a message')
    assert.equal(letter.topic, topics.transactions)
    assert.ok(letter.offset >= 0 && letter.partition >= 0)
  }
  assert.ok(new Set(dead.map((d) => d.reason)).size >= 5, 'the generator’s invalid kinds map to distinct reasons')
  assert.ok(
    !dead.some((d) => Buffer.from(d.raw, 'base64').toString().includes('4111111111111111')),
    'no PAN in the DLQ',
  )

  for (const file of readdirSync(QUERIES_DIR).filter((f) => f.endsWith('.sql'))) {
    const sql = readFileSync(join(QUERIES_DIR, file), 'utf8')
    assert.match(sql, /^-- Question: /, `${file} starts with the question it answers`)
    // Bound as `fraudstream sql --file` binds a file's declared defaults.
    const result = await (
      await pipeline.clickhouse.query({ query: sql, query_params: paramDefaultsOf(sql), format: 'JSONEachRow' })
    ).json<Record<string, unknown>>()
    // Label- and history-based queries may rightly be empty on minutes of data; these never are.
    if (EVERY_RUN_HAS_ROWS.includes(file)) assert.ok(result.length > 0, `${file} returns rows`)
    if (file === 'duplicates-check.sql') {
      // One deciding row per transaction, and at most one row per model and transaction.
      assert.ok(result.some((r) => r.scope === 'decisions'))
      assert.deepEqual(
        result.filter((r) => Number(r.duplicate_rows) !== 0 || Number(r.undecided) !== 0),
        [],
      )
    }
  }

  const metrics = await (await fetch(`${pipeline.http!.url}/metrics`)).text()
  assert.match(metrics, new RegExp(`fraudstream_transactions_total\\{outcome="scored"\\} ${validIds.size}\\b`))
  assert.match(metrics, new RegExp(`fraudstream_transactions_total\\{outcome="invalid"\\} ${invalidSent.length}\\b`))
  assert.match(metrics, /fraudstream_decision_latency_seconds_bucket/)
  assert.match(metrics, /fraudstream_process_cpu_user_seconds_total/)

  const [committed, ends] = await Promise.all([
    committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topics.transactions),
    endOffsets(cluster.bootstrapServers, topics.transactions),
  ])
  assert.deepEqual(committed, ends, 'committed offsets equal end offsets')
})
