import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createClickhouseClient, type ClickHouseClient } from '../../src/adapters/clickhouse/client.js'
import { loadFeatures } from '../../src/cli/feature-module.js'
import { loadConfig } from '../../src/config/load.js'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import type { OutgoingRecord, RecordSink } from '../../src/core/ports.js'
import { publishGenerated } from '../../src/generator/publish.js'
import { TransactionGenerator, type GeneratedRecord } from '../../src/generator/transaction-generator.js'
import { createPipeline } from '../../src/main.js'
import type { ReplaySummary } from '../../src/replay/replay.js'
import { committedOffsets, endOffsets, readTopic, useMockCluster, waitFor } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const cluster = useMockCluster()

/** What must be equal bit for bit between two runs of a transaction: everything but run id, time of decision, latency. */
const COMPARED = `transaction_id, model_name, model_version, model_role, score, decision, reasons, rules,
  explanation_features, explanation_values, late, features, source_partition, source_offset`

async function rowsOf(dataDir: string, runId: string): Promise<Map<string, string>> {
  const client = await createClickhouseClient(loadConfig({ overrides: { environment: 'test', dataDir } }))
  try {
    return await rowsIn(client, runId)
  } finally {
    await client.close()
  }
}

async function rowsIn(client: ClickHouseClient, runId: string): Promise<Map<string, string>> {
  {
    const rows = await (
      await client.query({
        query: `SELECT ${COMPARED} FROM scores WHERE run_id = {runId:String} ORDER BY transaction_id, model_name`,
        query_params: { runId },
        format: 'JSONEachRow',
      })
    ).json<Record<string, unknown>>()
    const byId = new Map<string, string>()
    for (const r of rows) {
      const key = `${r.transaction_id as string}/${r.model_name as string}`
      assert.ok(!byId.has(key), `${runId}: one row per transaction and model (${key})`)
      byId.set(key, JSON.stringify(r))
    }
    return byId
  }
}

async function replay(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<ReplaySummary> {
  const { stdout } = await run(process.execPath, [BIN, 'replay', '--data-dir', dataDir, '--json', ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 16 * 1024 * 1024,
  })
  return JSON.parse(stdout) as ReplaySummary
}

test('`replay --input` twice with the same arguments writes identical rows under two run ids; `live` is refused', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const input = join(dataDir, 'tx.ndjson')
  await run(process.execPath, [
    BIN,
    'generate',
    '--count',
    '4000',
    '--seed',
    '5',
    '--invalid-rate',
    '0.01',
    '--duplicate-rate',
    '0.01',
    '--out',
    input,
    '--json',
  ])
  const args = ['--input', input, '--labels', join(dataDir, 'tx.labels.ndjson')]
  const a = await replay(dataDir, [...args, '--run-id', 'a'])
  const b = await replay(dataDir, [...args, '--run-id', 'b'])
  assert.ok(a.scored > 3_800, `scored ${a.scored}`)
  assert.equal(b.scored, a.scored)
  const [rowsA, rowsB] = [await rowsOf(dataDir, 'a'), await rowsOf(dataDir, 'b')]
  assert.equal(rowsA.size, a.scored)
  assert.deepEqual(rowsB, rowsA)
  const labelLines = readFileSync(join(dataDir, 'tx.labels.ndjson'), 'utf8').split('\n').filter(Boolean).length
  assert.equal(a.labels, labelLines, 'the labels of a file replay go to the labels table under its run id')
  const client = await createClickhouseClient(loadConfig({ overrides: { environment: 'test', dataDir } }))
  try {
    const counted = await (
      await client.query({
        query: "SELECT run_id, count() AS n FROM labels WHERE run_id IN ('a', 'b') GROUP BY run_id ORDER BY run_id",
        format: 'JSONEachRow',
      })
    ).json<{ run_id: string; n: string }>()
    assert.deepEqual(
      counted.map((r) => [r.run_id, Number(r.n)]),
      [
        ['a', labelLines],
        ['b', labelLines],
      ],
    )
  } finally {
    await client.close()
  }
  const declined = [...rowsA.values()].filter((r) => (JSON.parse(r) as { decision: string }).decision !== 'approve')
  assert.ok(declined.length > 10, 'reviews and declines (with reasons) are in the comparison')
  await assert.rejects(replay(dataDir, [...args, '--run-id', 'live']), (err: { stdout: string }) =>
    /live/.test(err.stdout),
  )
  await assert.rejects(replay(dataDir, [...args, '--run-id', 'a']), (err: { stdout: string }) =>
    /already has/.test(err.stdout),
  )
})

/** What a scenario changes from the defaults: dotted config overrides, and the same as a config file for the CLI. */
interface Settings {
  readonly overrides: Record<string, unknown>
  readonly file: Record<string, unknown>
  /** The warm-up must start after the topic's beginning on every partition (the horizon is shorter than the data). */
  readonly partialWarmUp: boolean
}

/**
 * A live job over 20,000+ generated transactions with disorder, then two replays of its topic at once (one from before
 * the first event, one from the median timestamp): isolation, the offset search, and every row equal to live.
 */
async function liveThenReplays(t: TestContext, settings: Settings): Promise<void> {
  const topics = {
    transactions: `tx-${Math.random().toString(36).slice(2)}`,
    decisions: `decisions-${Math.random().toString(36).slice(2)}`,
    alerts: `alerts-${Math.random().toString(36).slice(2)}`,
    dlq: 'dlq-replay',
    labels: `labels-${Math.random().toString(36).slice(2)}`,
  }
  const { config, dataDir, cleanup } = testConfig({
    'kafka.topics': topics,
    'infer.deadlineMs': 0,
    ...settings.overrides,
  })
  teardown(t, cleanup)
  const features = await loadFeatures(config)
  // The records as the generator makes them (labels among the transactions, days after them in event time) …
  const generated: OutgoingRecord[] = []
  const collect: RecordSink = {
    send: (record, onAck) => {
      generated.push(record)
      onAck()
    },
    flush: async () => {},
    close: async () => {},
  }
  const sent: GeneratedRecord[] = []
  await publishGenerated({
    generator: new TransactionGenerator({ seed: 23, invalidRate: 0.01, duplicateRate: 0.01 }),
    sink: collect,
    topics,
    count: 20_000,
    rate: 'max',
    onRecord: (r) => void sent.push(r),
  })
  // … with disorder: every 50th transaction 30 s back in event time (out of order, within the lateness), and every
  // 400th copied two hours back under a new id, sent 100 records later (late: behind the watermark).
  const records: OutgoingRecord[] = []
  const lateCopies: { at: number; record: OutgoingRecord }[] = []
  generated.forEach((r, i) => {
    if (r.topic !== topics.transactions || !r.value || !r.value.toString().startsWith('{')) return void records.push(r)
    let line = r.value.toString()
    const eventTime = /"event_time":"([^"]+)"/.exec(line)?.[1]
    if (!eventTime) return void records.push(r)
    const shift = (ms: number) => new Date(Date.parse(eventTime) - ms).toISOString()
    if (i % 50 === 25) line = line.replace(`"event_time":"${eventTime}"`, `"event_time":"${shift(30_000)}"`)
    records.push({ ...r, value: Buffer.from(line), timestampMs: Date.parse(eventTime) })
    if (i % 400 === 200)
      lateCopies.push({
        at: records.length + 100,
        record: {
          ...r,
          value: Buffer.from(
            line
              .replace(/"transaction_id":"([^"]+)"/, `"transaction_id":"late-$1"`)
              .replace(/"event_time":"[^"]+"/, `"event_time":"${shift(7_200_000)}"`),
          ),
          timestampMs: Date.parse(eventTime) - 7_200_000,
        },
      })
  })
  for (const { at, record } of lateCopies.reverse()) records.splice(at, 0, record)
  const transactions = records.filter((r) => r.topic === topics.transactions).length
  assert.ok(transactions >= 20_000)

  const { log } = testLogger('warn')
  const pipeline = await createPipeline({
    config,
    features,
    kafka: { bootstrapServers: cluster.bootstrapServers },
    log,
  })
  teardown(t, () => pipeline.close())
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  for (const r of records) producer.send(r, () => undefined)
  await producer.flush()
  await waitFor(() => pipeline.job.stats.consumed >= transactions || pipeline.job.failure !== undefined, {
    timeoutMs: 300_000,
    what: 'the live job to consume every transaction',
  })
  assert.equal(pipeline.job.failure, undefined)
  assert.ok(pipeline.job.stats.late >= 40, `late transactions in the live run: ${pipeline.job.stats.late}`)
  // The live job stays up, idle, while two replays run at once: its offsets must not move, its topics get nothing.
  const ends = await endOffsets(cluster.bootstrapServers, topics.transactions)
  await waitFor(
    async () =>
      JSON.stringify(await committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topics.transactions)) ===
      JSON.stringify(ends),
    { timeoutMs: 60_000, what: 'the live job to commit every offset' },
  )
  const committedBefore = await committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topics.transactions)
  const decisionsBefore = await endOffsets(cluster.bootstrapServers, topics.decisions)
  const alertsBefore = await endOffsets(cluster.bootstrapServers, topics.alerts)

  const firstEvent = Math.min(...sent.filter((r) => r.topic === 'transactions').map((r) => r.eventTimeMs))
  const txRecords = await readTopic(cluster.bootstrapServers, topics.transactions)
  const sorted = txRecords.map((r) => r.timestampMs).sort((a, b) => a - b)
  const midMs = sorted[Math.floor(sorted.length / 2)]!
  const env = {
    FRAUDSTREAM_KAFKA_BROKERS: cluster.bootstrapServers,
    FRAUDSTREAM_KAFKA_GROUP_ID: config.kafka.groupId,
    FRAUDSTREAM_ENVIRONMENT: 'test',
  }
  const topicArgs = ['--partitions', '4']
  const kafkaTopics = [`--config`, join(dataDir, 'replay-config.json')]
  writeFileSync(join(dataDir, 'replay-config.json'), JSON.stringify({ ...settings.file, kafka: { topics } }))
  // Embedded ClickHouse (chDB) is one process per data directory: each replay, and the live job, has its own.
  const [fullDir, midDir] = [join(dataDir, 'full'), join(dataDir, 'mid')]
  const [full, mid] = await Promise.all([
    replay(
      fullDir,
      [...kafkaTopics, ...topicArgs, '--from', String(Math.floor(firstEvent) - 86_400_000), '--run-id', 'full'],
      env,
    ),
    replay(midDir, [...kafkaTopics, ...topicArgs, '--from', String(midMs), '--run-id', 'mid'], env),
  ])

  // Isolation.
  assert.deepEqual(
    await committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topics.transactions),
    committedBefore,
  )
  assert.deepEqual(await endOffsets(cluster.bootstrapServers, topics.decisions), decisionsBefore)
  assert.deepEqual(await endOffsets(cluster.bootstrapServers, topics.alerts), alertsBefore)

  // The mock answers offsets-for-times with −1: the start of each partition was found by searching timestamps, and
  // it is the boundary: the record there is at or after --from, the one before it (if any) earlier.
  assert.ok(mid.offset_lookups.includes('search'), `lookups: ${mid.offset_lookups.join(',')}`)
  for (const range of mid.partitions) {
    const byOffset = new Map(txRecords.filter((r) => r.partition === range.partition).map((r) => [r.offset, r]))
    assert.ok(byOffset.get(range.from)!.timestampMs >= midMs, `partition ${range.partition}: at from`)
    if (range.from > range.start) assert.ok(byOffset.get(range.from - 1)!.timestampMs < midMs)
  }
  assert.ok(mid.scored > 5_000 && mid.scored < full.scored, `mid ${mid.scored}, full ${full.scored}`)
  assert.equal(
    mid.partitions.every((r) => r.start > 0 && r.start < r.from),
    settings.partialWarmUp,
    `warm-up starts: ${JSON.stringify(mid.partitions)}`,
  )
  if (settings.partialWarmUp) assert.ok(mid.warm_up > 0 && mid.warm_up + mid.scored < full.scored)

  // Determinism against live: every transaction, bit for bit.
  const live = await rowsIn(pipeline.clickhouse, 'live')
  assert.equal(full.scored, pipeline.job.stats.scored)
  for (const [runId, summary, dir] of [
    ['full', full, fullDir],
    ['mid', mid, midDir],
  ] as const) {
    const replayed = await rowsOf(dir, runId)
    assert.equal(replayed.size, summary.scored)
    let differing = 0
    const examples: string[] = []
    for (const [key, row] of replayed) {
      if (live.get(key) === row) continue
      if (differing++ < 3) examples.push(`${row}\n  live: ${live.get(key)}`)
    }
    assert.equal(differing, 0, `${runId}: rows differing from live:\n${examples.join('\n')}`)
  }
}

test('a replay of the topic gives, for every transaction, the live score, decision, reasons and features; the live group and topics are untouched', async (t) => {
  // The shipped features read up to 30 days back: both replays warm up from the topic's beginning.
  await liveThenReplays(t, { overrides: {}, file: {}, partialWarmUp: false })
})

test('a replay from the middle of the topic warms its state from the horizon before --from, and matches live', async (t) => {
  // Features that read at most about two hours back, and a model trained on them: the warm-up starts mid-topic.
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-short-'))
  teardown(t, () => rmSync(dir, { recursive: true, force: true }))
  const module = join(dir, 'short.mts')
  writeFileSync(module, SHORT_FEATURES)
  const models = join(dir, 'models')
  await run(process.execPath, [
    BIN,
    'train',
    '--kind',
    'logistic',
    '--name',
    'short-lr',
    '--transactions',
    '20000',
    '--epochs',
    '50',
    '--features',
    module,
    '--models-dir',
    models,
    '--promote',
    '--data-dir',
    join(dir, 'data'),
    '--json',
  ])
  await liveThenReplays(t, {
    overrides: { 'features.module': module, 'model.dir': models, 'dedupe.horizonMs': 3_600_000 },
    file: { features: { module }, model: { dir: models }, dedupe: { horizonMs: 3_600_000 } },
    partialWarmUp: true,
  })
})

const SHORT_FEATURES = `const M = 60_000
const H = 60 * M
const lookup = { key: 'terminal', resolutionMs: 5 * M, spanMs: 2 * H, delayMs: 10 * M, labelLagMs: 10 * M }
export const features = [
  { kind: 'derived', name: 'amount', field: 'amount', description: 'amount' },
  { kind: 'derived', name: 'is_night', field: 'is_night', description: 'night' },
  { kind: 'window', name: 'card_count_1h', key: 'card', aggregation: 'count', spanMs: H, description: 'count' },
  { kind: 'window', name: 'card_sum_2h', key: 'card', aggregation: 'sum', spanMs: 2 * H, description: 'sum' },
  { kind: 'lookup', name: 'terminal_tx_count_2h', aggregation: 'count', ...lookup, description: 'terminal' },
  { kind: 'lookup', name: 'terminal_fraud_count_2h', aggregation: 'fraud_count', ...lookup, description: 'fraud' },
]
`
