import assert from 'node:assert/strict'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { pack, unpack } from 'msgpackr'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { publishGenerated } from '../../src/generator/publish.js'
import { TransactionGenerator, type GeneratedRecord } from '../../src/generator/transaction-generator.js'
import type { PartitionSnapshot } from '../../src/runtime/partition-snapshots.js'
import type { CardFeaturesSnapshot } from '../../src/stages/windows/card-features.js'
import { createPipeline } from '../../src/main.js'
import { testTopics, useMockCluster, waitFor } from '../helpers/kafka.js'
import { compareWithUninterruptedRun } from '../helpers/features.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()

test('a snapshot that cannot be loaded is passed over for a replay that gives the same features; a snapshot store that cannot be read fails the job instead of leaving its partitions unassigned', async (t) => {
  const topics = testTopics()
  const { config, dataDir, cleanup } = testConfig({
    'kafka.topics': topics,
    'runtime.stateStore': 'files',
    'lookups.maxWaitMs': 60_000,
  })
  teardown(t, cleanup)
  const { log, lines } = testLogger()
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  const generator = new TransactionGenerator({ seed: 11, duplicateRate: 0.01 })
  const sent: GeneratedRecord[] = []
  const publish = (count: number, consumed: () => number) =>
    publishGenerated({
      generator,
      sink: producer,
      topics,
      count,
      rate: 2_000,
      maxLead: { records: 10_000, consumed },
      onRecord: (r) => void sent.push(r),
    })

  // A first job processes 3,000 transactions and stops gracefully: a snapshot per partition at its final commit.
  const first = await createPipeline({ config, kafka, log, instanceId: 'first' })
  teardown(t, () => first.close())
  await publish(3_000, () => first.job.stats.consumed)
  await waitFor(() => first.job.stats.consumed >= 3_000, {
    timeoutMs: 60_000,
    what: 'the first job to consume everything',
  })
  await first.close()

  // Each partition's newest snapshot now holds a malformed card log: it unpacks and matches the settings, but cannot
  // be loaded (before, that threw out of the assignment and the partition stayed unassigned, silently).
  const partitionsDir = join(
    dataDir,
    'state',
    encodeURIComponent(config.kafka.groupId),
    encodeURIComponent(topics.transactions),
  )
  const partitionDirs = readdirSync(partitionsDir).map((p) => join(partitionsDir, p))
  assert.ok(partitionDirs.length > 0, 'the first job wrote snapshots')
  for (const dir of partitionDirs) {
    const newest = join(
      dir,
      readdirSync(dir)
        .filter((f) => f.endsWith('.snap'))
        .sort()
        .at(-1)!,
    )
    const snapshot = unpack(readFileSync(newest)) as PartitionSnapshot
    const cardWindows = snapshot.stages['card-windows'] as CardFeaturesSnapshot
    writeFileSync(
      newest,
      pack({
        ...snapshot,
        stages: {
          ...snapshot.stages,
          'card-windows': {
            ...cardWindows,
            windows: { ...cardWindows.windows, cards: [['card-broken', [999, 0, 1]]] },
          },
        },
      }),
    )
  }

  const second = await createPipeline({ config, kafka, log, instanceId: 'second' })
  teardown(t, () => second.close())
  await publish(2_000, () => second.job.stats.consumed)
  await waitFor(() => second.job.stats.consumed >= 2_000 || second.job.failure !== undefined, {
    timeoutMs: 120_000,
    what: 'the second job to consume the rest',
  })
  await second.job.stop()
  assert.equal(second.job.failure, undefined)
  assert.equal(lines.filter((l) => l.msg === 'unusable snapshot; trying an older one').length, partitionDirs.length)
  assert.ok(
    second.job.stats.restored >= 2_900,
    `the second job rebuilt the state by replaying the first job's records (${second.job.stats.restored})`,
  )
  const run = await compareWithUninterruptedRun({ client: second.clickhouse, config, topic: topics.transactions, sent })
  assert.equal(run.rows, run.expected)
  assert.deepEqual(
    run.differing.slice(0, 3),
    [],
    `${run.differing.length} feature vectors differ from an uninterrupted run: ${run.differences.join('; ')}`,
  )
  await second.close()

  // A partition's snapshot directory replaced by a file: the store itself fails, and so does the job, loudly.
  rmSync(partitionDirs[0]!, { recursive: true })
  writeFileSync(partitionDirs[0]!, 'not a directory')
  let reported: Error | undefined
  const third = await createPipeline({ config, kafka, log, instanceId: 'third', onFailure: (err) => (reported = err) })
  teardown(t, () => third.close())
  await waitFor(() => reported !== undefined, {
    timeoutMs: 60_000,
    what: 'the job to fail on the unreadable snapshot store',
  })
  assert.match(reported!.message, /rebalance handling failed: .*ENOTDIR/)
  assert.equal(third.job.failure, reported)
})
