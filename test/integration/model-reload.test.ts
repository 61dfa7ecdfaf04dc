import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { readRegistry } from '../../src/adapters/onnx/model-package.js'
import type { DecisionV1 } from '../../src/core/records.js'
import { publishGenerated } from '../../src/generator/publish.js'
import { TransactionGenerator } from '../../src/generator/transaction-generator.js'
import { createPipeline } from '../../src/main.js'
import { publishRegistry } from '../../src/models/publish-registry.js'
import { addShadow, promote } from '../../src/models/registry.js'
import { featureContractHash } from '../../src/stages/features/feature-definition.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { readTopic, testTopics, useMockCluster, waitFor } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const MODELS = fileURLToPath(new URL('../../models/', import.meta.url))
const CONTRACT = featureContractHash(cardFraudFeatures)
const cluster = useMockCluster()

/** The shipped models, and card-fraud-gbdt@2: the champion's package under a new version, so rows tell them apart. */
function modelsDir(dir: string): string {
  cpSync(MODELS, dir, { recursive: true })
  cpSync(join(dir, 'card-fraud-gbdt', '1'), join(dir, 'card-fraud-gbdt', '2'), { recursive: true })
  const manifest = join(dir, 'card-fraud-gbdt', '2', 'manifest.json')
  writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), version: '2' }))
  writeFileSync(join(dir, 'registry.json'), JSON.stringify({ champion: 'card-fraud-gbdt@1', shadows: [] }))
  return dir
}

/** Topics of its own, a data dir holding a copy of the models, and a config reading them with `overrides`. */
function setup(t: Parameters<typeof teardown>[0], overrides: Record<string, unknown>) {
  const topics = testTopics()
  const dir = modelsDir(mkdtempSync(join(tmpdir(), 'fraudstream-models-')))
  teardown(t, () => rmSync(dir, { recursive: true, force: true }))
  const { config, dataDir, cleanup } = testConfig({ 'kafka.topics': topics, 'model.dir': dir, ...overrides })
  teardown(t, cleanup)
  return { topics, dataDir, dir, config }
}

test('promoted during a 50,000-transaction run: every transaction scored by exactly one champion, none dropped or doubled, a shadow added on the way', async (t) => {
  const { topics, dataDir, dir, config } = setup(t, { 'model.reloadIntervalMs': 100 })
  const { log, lines } = testLogger()
  const pipeline = await createPipeline({ config, kafka: { bootstrapServers: cluster.bootstrapServers }, log })
  teardown(t, () => pipeline.close())
  assert.equal(pipeline.models.reload, 'file')
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())

  let promoted = false
  let shadowed = false
  const published = await publishGenerated({
    generator: new TransactionGenerator({ seed: 23 }),
    sink: producer,
    topics,
    count: 50_000,
    rate: 'max',
    // Counted by transactions scored, not consumed: at start the consumed ones can all still wait in the lookups stage
    // for complete tables (seen under the full suite's load), and a promotion then would reach every one of them.
    maxLead: { records: 15_000, consumed: () => pipeline.job.stats.scored },
    onRecord: () => {
      const scoredSoFar = pipeline.job.stats.scored
      if (!promoted && scoredSoFar >= 15_000) {
        promoted = true
        promote(dir, 'card-fraud-gbdt@2', CONTRACT)
      }
      if (!shadowed && scoredSoFar >= 30_000) {
        shadowed = true
        addShadow(dir, 'card-fraud-lr@2', CONTRACT)
      }
    },
  })
  await waitFor(() => pipeline.job.stats.consumed >= published.transactions || pipeline.job.failure !== undefined, {
    timeoutMs: 180_000,
    what: 'the job to consume every record',
  })
  assert.ok(promoted && shadowed, 'both registry changes were made mid-run')
  await pipeline.job.stop()
  assert.equal(pipeline.job.failure, undefined)
  const scored = pipeline.job.stats.scored
  assert.equal(scored, published.transactions)
  assert.deepEqual(
    lines.filter((l) => l.msg === 'models switched: the next batches are scored with the new lineup').length,
    2,
  )

  const rows = await (
    await pipeline.clickhouse.query({
      query: `SELECT transaction_id, model_name, model_version, model_role, source_partition, source_offset, score
              FROM scores WHERE source_topic = {topic:String} ORDER BY source_partition, source_offset, model_role`,
      query_params: { topic: topics.transactions },
      format: 'JSONEachRow',
    })
  ).json<{
    transaction_id: string
    model_name: string
    model_version: string
    model_role: string
    source_partition: number
    source_offset: string
    score: number
  }>()
  const deciding = rows.filter((r) => r.model_role !== 'shadow')
  assert.equal(deciding.length, scored, 'one deciding row per transaction')
  assert.equal(new Set(deciding.map((r) => r.transaction_id)).size, scored, 'none doubled')
  assert.ok(deciding.every((r) => r.model_role === 'champion' && r.model_name === 'card-fraud-gbdt'))
  const versions = new Map<string, number>()
  for (const r of deciding) versions.set(r.model_version, (versions.get(r.model_version) ?? 0) + 1)
  assert.ok(
    (versions.get('1') ?? 0) >= 10_000 && (versions.get('2') ?? 0) >= 10_000,
    `both champions scored a share: ${JSON.stringify([...versions])}`,
  )
  // Batches go to the scorer in offset order per partition: once a partition's batch is scored by @2, no later one is
  // scored by @1.
  const switchedAt = new Map<number, number>()
  for (const r of deciding) {
    const offset = Number(r.source_offset)
    if (r.model_version === '2' && !switchedAt.has(r.source_partition)) switchedAt.set(r.source_partition, offset)
    if (r.model_version === '1' && switchedAt.has(r.source_partition))
      assert.fail(
        `partition ${r.source_partition} offset ${offset} scored by @1 after @2 from ${switchedAt.get(r.source_partition)}`,
      )
  }
  const shadows = rows.filter((r) => r.model_role === 'shadow')
  assert.ok(shadows.length >= 5_000, `the shadow scored the transactions after it was added (${shadows.length})`)
  assert.ok(shadows.every((r) => r.model_name === 'card-fraud-lr' && r.model_version === '2'))
  const decidingIds = new Set(deciding.map((r) => r.transaction_id))
  assert.ok(shadows.every((r) => decidingIds.has(r.transaction_id)))

  const decisions = (await readTopic(cluster.bootstrapServers, topics.decisions)).map(
    (r) => JSON.parse(r.value.toString()) as DecisionV1,
  )
  assert.equal(decisions.length, scored, 'one decision per transaction')
  const versionOf = new Map(deciding.map((r) => [r.transaction_id, r.model_version]))
  assert.deepEqual(
    decisions.filter((d) => versionOf.get(d.transaction_id) !== d.model.version).slice(0, 3),
    [],
    'the decision names the version ClickHouse recorded',
  )
  const withShadow = decisions.filter((d) => d.shadow?.[0]?.name === 'card-fraud-lr')
  assert.equal(withShadow.length, shadows.length, 'a decision carries the shadow score exactly when ClickHouse has it')
  assert.ok(withShadow.every((d) => d.shadow!.length === 1 && d.shadow![0]!.role === 'shadow'))
})

test('with Kafka, a registry written to the models topic switches every instance; a refused one changes nothing', async (t) => {
  const { dataDir, dir, config } = setup(t, { 'model.reload': 'topic' })
  const { log, lines } = testLogger()
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  // The models topic exists before the job starts, as the README asks; the registry written at setup is the file's.
  await publishRegistry(config, readRegistry(dir), cluster.bootstrapServers)
  const members = await Promise.all(
    ['a', 'b'].map((name) =>
      createPipeline({ config: { ...config, dataDir: join(dataDir, name) }, kafka, log, instanceId: name }),
    ),
  )
  for (const m of members) teardown(t, () => m.close())
  assert.deepEqual(
    members.map((m) => [m.models.reload, m.models.lineup.champion.ref.version]),
    [
      ['topic', '1'],
      ['topic', '1'],
    ],
  )
  const registry = { ...readRegistry(dir), champion: 'card-fraud-gbdt@2' }
  await publishRegistry(config, registry, cluster.bootstrapServers)
  await waitFor(() => members.every((m) => m.models.lineup.champion.ref.version === '2'), {
    timeoutMs: 5_000,
    what: 'both instances to switch to @2',
  })
  await publishRegistry(config, { ...registry, champion: 'card-fraud-gbdt@9' }, cluster.bootstrapServers)
  await waitFor(() => lines.filter((l) => String(l.msg).startsWith('registry change refused')).length === 2, {
    timeoutMs: 5_000,
    what: 'both instances to refuse a missing model',
  })
  assert.ok(
    members.every((m) => m.models.lineup.champion.ref.version === '2'),
    'kept @2',
  )
  for (const m of members) {
    const reloads = (await m.metrics.modelReloads.get()).values
    assert.deepEqual(reloads.map((v) => [v.labels.result, v.value]).sort(), [
      ['failed', 1],
      ['ok', 1],
    ])
  }

  // A member that starts meanwhile cannot serve @9 either: it starts with the file's registry, and says so.
  const early = await createPipeline({
    config: { ...config, dataDir: join(dataDir, 'd') },
    kafka,
    log,
    instanceId: 'd',
  })
  teardown(t, () => early.close())
  assert.equal(early.models.lineup.champion.ref.version, '1')
  assert.ok(lines.some((l) => String(l.msg).startsWith("the models topic's registry cannot be served here")))

  // Once the registry is fixed, a member that starts after the promotion starts with it, as the others run.
  await publishRegistry(config, registry, cluster.bootstrapServers)
  await waitFor(() => early.models.lineup.champion.ref.version === '2', { timeoutMs: 5_000, what: 'd to switch' })
  const late = await createPipeline({ config: { ...config, dataDir: join(dataDir, 'c') }, kafka, log, instanceId: 'c' })
  teardown(t, () => late.close())
  assert.equal(late.models.lineup.champion.ref.version, '2')
})
