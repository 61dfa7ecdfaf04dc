import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { createClickhouseClient } from '../../src/adapters/clickhouse/client.js'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { publishGenerated } from '../../src/generator/publish.js'
import { Random } from '../../src/generator/random.js'
import { TransactionGenerator, type GeneratedRecord } from '../../src/generator/transaction-generator.js'
import { committedOffsets, decisionCoverage, endOffsets, waitFor, useMockCluster } from '../helpers/kafka.js'
import { compareWithUninterruptedRun } from '../helpers/features.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const TOTAL = 50_000
const KILLS = 5

const cluster = useMockCluster()

const assignments: { snapshotOffset: number | null; committed: number | null; restoreRecords: number }[] = []

function startJob(configFile: string): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'run', '--config', configFile, '--log-level', 'info'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (line.includes('"partition assigned"')) assignments.push(JSON.parse(line) as (typeof assignments)[number])
    if (/"level":(50|60)/.test(line)) process.stdout.write(`# child ${child.pid}: ${line.slice(0, 600)}\n`)
  })
  return child
}

/** How a child ended: `code N` or `signal NAME` (a crash shows as a signal, not as a missing code). */
const exited = (child: ChildProcess) =>
  new Promise<string>((resolve) => {
    const describe = (code: number | null, signal: NodeJS.Signals | null) =>
      signal ? `signal ${signal}` : `code ${code}`
    if (child.exitCode !== null || child.signalCode !== null) resolve(describe(child.exitCode, child.signalCode))
    else child.once('exit', (code, signal) => resolve(describe(code, signal)))
  })

test(`kill -9 of the job at ${KILLS} random points in a ${TOTAL.toLocaleString('en-US')}-transaction run: every transaction has exactly one score row, with the features of an uninterrupted run`, async (t) => {
  const topics = {
    transactions: `tx-${Math.random().toString(36).slice(2)}`,
    decisions: 'decisions-kill9',
    alerts: 'alerts-kill9',
    dlq: 'dlq-kill9',
    labels: 'labels-kill9',
  }
  const { config, dataDir, cleanup } = testConfig({ 'kafka.topics': topics })
  teardown(t, cleanup)
  const configFile = join(dataDir, 'fraudstream.yaml')
  writeFileSync(
    configFile,
    stringify({
      environment: 'test',
      dataDir,
      kafka: {
        brokers: [cluster.bootstrapServers],
        groupId: config.kafka.groupId,
        topics,
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 500,
      },
      http: { port: 0 },
      runtime: { snapshotIntervalMs: 1_000 },
    }),
  )
  const { log } = testLogger()
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())

  let committed = 0
  const poll = setInterval(() => {
    committedOffsets(cluster.bootstrapServers, config.kafka.groupId, topics.transactions).then(
      (offsets) => (committed = offsets.reduce<number>((sum, o) => sum + (o ?? 0), 0)),
      () => undefined,
    )
  }, 250)
  teardown(t, () => clearInterval(poll))

  const sent: GeneratedRecord[] = []
  // The mock keeps ~5 MiB per partition: the producer may run at most 16k records ahead of the group's commits.
  const publishing = publishGenerated({
    generator: new TransactionGenerator({ seed: 21, duplicateRate: 0.01, invalidRate: 0.005 }),
    sink: producer,
    topics,
    count: TOTAL,
    rate: 'max',
    maxLead: { records: 16_000, consumed: () => committed },
    onRecord: (r) => void sent.push(r),
  })

  const random = new Random(2026)
  const killPoints = Array.from({ length: KILLS }, () => Math.floor(random.uniform(0.05, 0.9) * TOTAL)).sort(
    (a, b) => a - b,
  )
  let job = startJob(configFile)
  // Else, when an assertion fails, the job outlives the test run.
  teardown(t, () => job.kill('SIGKILL'))
  for (const point of killPoints) {
    await waitFor(() => committed >= point || job.exitCode !== null, {
      timeoutMs: 120_000,
      what: `commits to pass ${point}`,
    })
    assert.equal(job.exitCode, null, 'the job is still running when it is killed')
    job.kill('SIGKILL')
    await exited(job)
    job = startJob(configFile)
  }
  await publishing
  const ends = await endOffsets(cluster.bootstrapServers, topics.transactions)
  await waitFor(async () => committed >= ends.reduce((a, b) => a + b, 0), {
    timeoutMs: 180_000,
    what: 'the last job to commit every record',
  })
  job.kill('SIGTERM')
  assert.equal(await exited(job), 'code 0', 'the final job stops gracefully')

  const clickhouse = await createClickhouseClient(config)
  teardown(t, () => clickhouse.close())
  const { rows, expected, missing, doubled, differing, differences } = await compareWithUninterruptedRun({
    client: clickhouse,
    config,
    topic: topics.transactions,
    sent,
  })
  process.stdout.write(
    `# kill -9 at committed offsets ${killPoints.join(', ')}: rows ${rows}, expected ${expected}, missing ${missing.length}, doubled ${doubled.length}, differing features ${differing.length}\n`,
  )
  const fromSnapshot = assignments.filter((a) => a.snapshotOffset !== null)
  process.stdout.write(
    `# ${assignments.length} partition assignments, ${fromSnapshot.length} restored from a snapshot, replaying ${fromSnapshot.map((a) => a.restoreRecords).join('/')} records\n`,
  )
  assert.ok(fromSnapshot.length >= KILLS, 'restarts restore from snapshots and replay only the records after them')
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} transactions have no score row`)
  assert.deepEqual(doubled.slice(0, 5), [], `${doubled.length} transactions have two score rows`)
  assert.deepEqual(
    differing.slice(0, 3),
    [],
    `${differing.length} feature vectors differ from an uninterrupted run: ${differences.join('; ')}`,
  )

  const validIds = sent.flatMap((r) => (r.intent.kind === 'valid' ? [r.intent.transactionId] : []))
  const coverage = await decisionCoverage(cluster.bootstrapServers, topics.decisions, validIds)
  t.diagnostic(
    `decisions: ${coverage.decisions} for ${validIds.length} valid transactions, ${coverage.duplicates} repeated after the kills (at-least-once)`,
  )
  assert.deepEqual(coverage.missing.slice(0, 5), [], `${coverage.missing.length} valid transactions have no decision`)
})
