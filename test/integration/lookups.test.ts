import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { TransactionGenerator, type GeneratedRecord } from '../../src/generator/transaction-generator.js'
import { createPipeline, type Pipeline } from '../../src/main.js'
import { compareWithUninterruptedRun } from '../helpers/features.js'
import { committedOffsets, endOffsets, useMockCluster, waitFor } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()
const LOOKUPS = [
  'terminal_tx_count_7d',
  'terminal_fraud_count_7d',
  'terminal_fraud_ratio_7d',
  'merchant_fraud_ratio_7d',
]

test('terminal and merchant lookups: two instances splitting the partitions compute the features one instance computes, and both equal the offline oracle', async (t) => {
  const suffix = Math.random().toString(36).slice(2)
  const labels = `labels-lookups-${suffix}`
  const shared = { decisions: 'decisions-lookups', alerts: 'alerts-lookups', dlq: 'dlq-lookups', labels }
  const topicsOne = { ...shared, transactions: `tx-one-${suffix}` }
  const topicsTwo = { ...shared, transactions: `tx-two-${suffix}` }
  const one = testConfig({ 'kafka.topics': topicsOne })
  teardown(t, one.cleanup)
  // One embedded ClickHouse for the process: both runs write to it, told apart by source topic.
  const two = testConfig({ 'kafka.topics': topicsTwo, dataDir: one.dataDir })
  const { log } = testLogger()
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  const members: Pipeline[] = []
  teardown(t, async () => {
    for (const member of members) await member.close()
  })
  members.push(await createPipeline({ config: one.config, kafka, log, instanceId: 'single' }))
  members.push(
    await createPipeline({ config: two.config, kafka, log, instanceId: 'split-a' }),
    await createPipeline({ config: two.config, kafka, log, instanceId: 'split-b' }),
  )
  await waitFor(
    () =>
      members.every((m) => m.job.partitions().length > 0) &&
      members.slice(1).every((m) => m.job.partitions().length === 2),
    { timeoutMs: 60_000, what: 'the split run to have two partitions per member' },
  )

  // Few customers and merchants: two weeks of event time, so windows ending a day back hold history and labels.
  const generator = new TransactionGenerator({ seed: 31, customers: 400, merchants: 60, fraudRate: 0.02 })
  const sent: GeneratedRecord[] = []
  while (sent.filter((r) => r.topic === 'transactions').length < 12_000) sent.push(generator.next())
  sent.push(...generator.drainLabels())
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  // At ~3,000 records/s, as a live feed: both runs read while it is written.
  for (const [i, record] of sent.entries()) {
    const targets = record.topic === 'labels' ? [labels] : [topicsOne.transactions, topicsTwo.transactions]
    for (const topic of targets)
      producer.send(
        { topic, key: record.key, value: record.value, timestampMs: Math.floor(record.eventTimeMs) },
        () => undefined,
      )
    if (i % 300 === 299) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await producer.flush()

  for (const [config, topic] of [
    [one.config, topicsOne.transactions],
    [two.config, topicsTwo.transactions],
  ] as const) {
    const ends = await endOffsets(cluster.bootstrapServers, topic)
    await waitFor(
      async () =>
        (await committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topic)).every((c, p) => c === ends[p]),
      { timeoutMs: 120_000, what: `${topic} committed to its end` },
    )
  }
  for (const member of members) await member.job.stop()
  for (const member of members) assert.equal(member.job.failure, undefined)
  assert.equal(
    members.reduce((n, m) => n + m.job.stats.lookupStale, 0),
    0,
    'no transaction was scored before the tables were complete up to its windows',
  )
  assert.ok(
    members[1]!.job.stats.scored > 1_000 && members[2]!.job.stats.scored > 1_000,
    'both members of the split run scored a share',
  )

  const client = members[0]!.clickhouse
  const featuresOf = async (topic: string) => {
    const rows = await (
      await client.query({
        query: 'SELECT transaction_id, features FROM scores WHERE source_topic = {topic:String}',
        query_params: { topic },
        format: 'JSONEachRow',
      })
    ).json<{ transaction_id: string; features: Record<string, number> }>()
    return new Map(rows.map((r) => [r.transaction_id, r.features]))
  }
  const single = await featuresOf(topicsOne.transactions)
  const split = await featuresOf(topicsTwo.transactions)
  assert.equal(split.size, single.size)
  let differing = 0
  for (const [id, features] of single)
    if (JSON.stringify(LOOKUPS.map((n) => features[n])) !== JSON.stringify(LOOKUPS.map((n) => split.get(id)?.[n])))
      differing++
  if (differing > 0) {
    for (const [config, topic] of [
      [one.config, topicsOne.transactions],
      [two.config, topicsTwo.transactions],
    ] as const) {
      const run = await compareWithUninterruptedRun({ client, config, topic, sent })
      process.stdout.write(
        `# vs the offline oracle: ${topic} rows ${run.rows} expected ${run.expected} missing ${run.missing.length} doubled ${run.doubled.length} differing ${run.differing.length}\n`,
      )
      const rows = await featuresOf(topic)
      for (const id of run.differing.slice(0, 3))
        process.stdout.write(`#   ${id} lookups ${JSON.stringify(LOOKUPS.map((n) => rows.get(id)?.[n]))}\n`)
    }
  }
  assert.equal(differing, 0, 'terminal and merchant features: two instances = one instance')

  for (const [config, topic] of [
    [one.config, topicsOne.transactions],
    [two.config, topicsTwo.transactions],
  ] as const) {
    const run = await compareWithUninterruptedRun({ client, config, topic, sent })
    assert.equal(run.rows, run.expected)
    assert.deepEqual(
      [run.missing.length, run.doubled.length, run.differing.length],
      [0, 0, 0],
      `${topic}: every vector (lookups included) equals the offline oracle's`,
    )
  }
  // The equality means something: the windows hold history and labels.
  const values = [...single.values()]
  const share = (name: string) => values.filter((f) => f[name]! > 0).length / values.length
  assert.ok(share('terminal_tx_count_7d') > 0.5, `terminal counts: ${share('terminal_tx_count_7d')}`)
  assert.ok(share('terminal_fraud_count_7d') > 0.01, `terminal known fraud: ${share('terminal_fraud_count_7d')}`)
  assert.ok(share('merchant_fraud_ratio_7d') > 0.05, `merchant fraud ratio: ${share('merchant_fraud_ratio_7d')}`)
  process.stdout.write(
    `# lookups non-zero: terminal count ${share('terminal_tx_count_7d').toFixed(3)}, terminal fraud ${share('terminal_fraud_count_7d').toFixed(3)}, merchant ratio ${share('merchant_fraud_ratio_7d').toFixed(3)}\n`,
  )
})

test('labels as banks send them (transaction id, verdict, source, time) move the terminal and merchant fraud features as full labels do', async (t) => {
  const suffix = Math.random().toString(36).slice(2)
  const shared = { decisions: 'decisions-bank', alerts: 'alerts-bank', dlq: 'dlq-bank' }
  const topicsFull = { ...shared, transactions: `tx-full-${suffix}`, labels: `labels-full-${suffix}` }
  const topicsBank = { ...shared, transactions: `tx-bank-${suffix}`, labels: `labels-bank-${suffix}` }
  const full = testConfig({ 'kafka.topics': topicsFull })
  teardown(t, full.cleanup)
  // One embedded ClickHouse: the bank run finds its labels' transactions in the scores both runs write.
  const bank = testConfig({ 'kafka.topics': topicsBank, dataDir: full.dataDir })
  const { log } = testLogger()
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  const members: Pipeline[] = []
  teardown(t, async () => {
    for (const member of members) await member.close()
  })
  members.push(
    await createPipeline({ config: full.config, kafka, log, instanceId: 'full' }),
    await createPipeline({ config: bank.config, kafka, log, instanceId: 'bank' }),
  )
  await waitFor(() => members.every((m) => m.job.partitions().length > 0), {
    timeoutMs: 60_000,
    what: 'both runs to own partitions',
  })
  const generator = new TransactionGenerator({ seed: 37, customers: 300, merchants: 50, fraudRate: 0.02 })
  const sent: GeneratedRecord[] = []
  while (sent.filter((r) => r.topic === 'transactions').length < 6_000) sent.push(generator.next())
  sent.push(...generator.drainLabels())
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  let stripped = 0
  for (const [i, record] of sent.entries()) {
    const timestampMs = Math.floor(record.eventTimeMs)
    if (record.topic === 'labels') {
      const { transaction_id, is_fraud, source, reported_at } = JSON.parse(record.value!.toString()) as Record<
        string,
        unknown
      >
      const minimal = Buffer.from(JSON.stringify({ transaction_id, is_fraud, source, reported_at }))
      producer.send({ topic: topicsFull.labels, key: record.key, value: record.value, timestampMs }, () => undefined)
      producer.send({ topic: topicsBank.labels, key: record.key, value: minimal, timestampMs }, () => undefined)
      stripped++
    } else
      for (const topic of [topicsFull.transactions, topicsBank.transactions])
        producer.send({ topic, key: record.key, value: record.value, timestampMs }, () => undefined)
    if (i % 300 === 299) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await producer.flush()
  for (const [config, topic] of [
    [full.config, topicsFull.transactions],
    [bank.config, topicsBank.transactions],
  ] as const) {
    const ends = await endOffsets(cluster.bootstrapServers, topic)
    await waitFor(
      async () =>
        (await committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topic)).every((c, p) => c === ends[p]),
      { timeoutMs: 120_000, what: `${topic} committed to its end` },
    )
  }
  for (const member of members) await member.job.stop()
  for (const member of members) assert.equal(member.job.failure, undefined)
  assert.equal(
    members.reduce((n, m) => n + m.job.stats.lookupStale, 0),
    0,
    'no transaction was scored before the tables were complete, waiting labels included',
  )
  const counter = async (member: Pipeline, name: string) =>
    (await member.metrics.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0)
  const bankMember = members[1]!
  assert.equal(await counter(bankMember, 'fraudstream_labels_unattributed_total'), 0, 'every bank label attributed')
  const attributed = (await bankMember.metrics.lookupLabels.get()).values.find((v) => v.labels.outcome === 'attributed')
  assert.ok((attributed?.value ?? 0) > stripped / 2, `bank labels attributed: ${attributed?.value} of ${stripped}`)

  const client = members[0]!.clickhouse
  const featuresOf = async (topic: string) => {
    const rows = await (
      await client.query({
        query: 'SELECT transaction_id, features FROM scores WHERE source_topic = {topic:String}',
        query_params: { topic },
        format: 'JSONEachRow',
      })
    ).json<{ transaction_id: string; features: Record<string, number> }>()
    return new Map(rows.map((r) => [r.transaction_id, r.features]))
  }
  const withFull = await featuresOf(topicsFull.transactions)
  const withBank = await featuresOf(topicsBank.transactions)
  assert.equal(withBank.size, withFull.size)
  const differing = [...withFull].filter(
    ([id, f]) => JSON.stringify(LOOKUPS.map((n) => f[n])) !== JSON.stringify(LOOKUPS.map((n) => withBank.get(id)?.[n])),
  )
  assert.deepEqual(
    differing.slice(0, 3),
    [],
    `${differing.length} transactions' lookups differ between full and bank labels`,
  )
  const moved = [...withBank.values()].filter((f) => f.terminal_fraud_count_7d! > 0).length
  assert.ok(moved > 0.01 * withBank.size, `terminal_fraud_count_7d moved by bank labels: ${moved} of ${withBank.size}`)
  process.stdout.write(
    `# bank labels: ${attributed?.value} attributed of ${stripped}; terminal fraud > 0 in ${moved} rows\n`,
  )
})

test('an empty labels topic does not hold the lookup tables back: transactions are scored without waiting out lookups.maxWaitMs', async (t) => {
  // The default idle timeout (30 s) is longer than the default wait (10 s): before the fix, every transaction of the
  // first half minute waited 10 s and was scored stale, since no label ever gave the labels partitions a watermark.
  const { config, pipeline, producer, log, topics } = await startOnQuietTopics(t, 'quiet')
  await waitFor(() => pipeline.job.partitions().length > 0, { timeoutMs: 60_000, what: 'the job to own partitions' })
  const generator = new TransactionGenerator({ seed: 5 })
  let sent = 0
  while (sent < 2_000) {
    const record = generator.next()
    if (record.topic !== 'transactions') continue
    producer.send(
      { topic: topics.transactions, key: record.key, value: record.value, timestampMs: Math.floor(record.eventTimeMs) },
      () => undefined,
    )
    sent++
  }
  await producer.flush()
  const started = performance.now()
  const ends = await endOffsets(cluster.bootstrapServers, topics.transactions)
  await waitFor(
    async () =>
      (await committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topics.transactions)).every(
        (c, p) => c === ends[p],
      ),
    { timeoutMs: 60_000, what: 'every transaction committed' },
  )
  const seconds = (performance.now() - started) / 1000
  assert.equal(pipeline.job.stats.lookupStale, 0, 'no transaction gave up waiting for the tables')
  assert.ok(
    seconds < config.lookups.maxWaitMs / 1000,
    `all ${sent} committed in ${seconds.toFixed(1)} s, less than one maxWait`,
  )
})

test('a quiet topic after a fresh start: five live transactions are decided in milliseconds, not after lookups.maxWaitMs', async (t) => {
  // A wait of 30 s cannot pass for a quick decision: a transaction that waited for tables nothing was completing
  // would be decided 30 s late (the case: 10 s, the default wait, for each of five kcat transactions).
  const { config, pipeline, producer, log, topics } = await startOnQuietTopics(t, 'kcat', {
    'lookups.maxWaitMs': 30_000,
  })
  await waitFor(() => pipeline.job.ready, { timeoutMs: 60_000, what: 'the job to be ready on the empty topic' })
  const generator = new TransactionGenerator({ seed: 9 })
  const decidedMs: number[] = []
  for (let i = 0; i < 5; i++) {
    let record = generator.next()
    while (record.topic !== 'transactions' || record.intent.kind !== 'valid') record = generator.next()
    // Event time = now, as a payment terminal's: its lookup windows end a day back.
    const value = { ...(JSON.parse(record.value!.toString()) as object), event_time: new Date().toISOString() }
    const scored = pipeline.job.stats.scored
    const sentAtMs = performance.now()
    producer.send(
      {
        topic: topics.transactions,
        key: record.key,
        value: Buffer.from(JSON.stringify(value)),
        timestampMs: Date.now(),
      },
      () => undefined,
    )
    await producer.flush()
    await waitFor(() => pipeline.job.stats.scored > scored, { timeoutMs: 40_000, what: `transaction ${i} decided` })
    decidedMs.push(performance.now() - sentAtMs)
  }
  process.stdout.write(`# kcat case: produce → decided ${decidedMs.map((ms) => ms.toFixed(0)).join(', ')} ms\n`)
  assert.equal(pipeline.job.stats.lookupStale, 0, 'none gave up waiting for the tables')
  for (const [i, ms] of decidedMs.entries()) assert.ok(ms < 2_000, `transaction ${i} decided in ${ms.toFixed(0)} ms`)
  // Any wait (a log-end query, a few ms) is in the histogram; none comes near a second.
  const waits = (await pipeline.metrics.lookupWaitSeconds.histogram.get()).values
  const over = (le: number) =>
    waits.find((v) => v.metricName?.endsWith('_count'))!.value -
    waits.find((v) => v.metricName?.endsWith('_bucket') && v.labels.le === le)!.value
  assert.equal(over(1), 0, 'no transaction waited a second or more for the tables')
})

/** The job with lookups on fresh, empty topics of its own, and a producer to write to them. */
async function startOnQuietTopics(t: TestContext, name: string, overrides: Record<string, unknown> = {}) {
  const suffix = Math.random().toString(36).slice(2)
  const topics = {
    transactions: `tx-${name}-${suffix}`,
    labels: `labels-${name}-${suffix}`,
    decisions: `decisions-${name}`,
    alerts: `alerts-${name}`,
    dlq: `dlq-${name}`,
  }
  const { config, cleanup } = testConfig({ 'kafka.topics': topics, ...overrides })
  teardown(t, cleanup)
  const { log } = testLogger()
  const pipeline = await createPipeline({
    config,
    kafka: { bootstrapServers: cluster.bootstrapServers },
    log,
    instanceId: name,
  })
  teardown(t, () => pipeline.close())
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  return { config, pipeline, producer, log, topics }
}
