import { startMockCluster } from '../src/adapters/kafka/mock-cluster.js'
import { FraudstreamError, ErrorCode } from '../src/core/errors.js'
import { publishInChild } from '../src/generator/publish-process.js'
import { createLogger } from '../src/observability/logger.js'
import { benchmarkArgs } from './args.js'
import { benchEnvironment, fmt, sleep, startBenchPipeline, startPlainConsumer, watchEventLoop } from './harness.js'
import { formatStageBudget, stageBudget, type StageBudget } from './stage-budget.js'

const USAGE = `Question: how many transactions per second does the whole job sustain end to end (mock Kafka → decode → dedupe →
windows → ONNX on Piscina → decide → decisions/alerts topics + ClickHouse → commit), and what share of the bare
transport (mock Kafka → a consumer group that does nothing) is that?

  npm run bench:e2e -- [--count 50000] [--seed 7] [--tiers card-fraud-lr@2:0.02] [--json]

The legs (transport, pipeline, pipeline with infer.explainTopK 0, and with --tiers the pipeline with tiered scoring:
infer.tiers.first and approveBelow, first:approveBelow) run in this one process, one after the other, with the same seeded generator producing as fast as the
consumer keeps up (bounded lead, as the mock drops data beyond 5 MiB per partition). Throughput is measured from the
first consumed record to the last one acknowledged by every sink, so the group join is not counted.`

const values = benchmarkArgs(USAGE, { count: { type: 'string', default: '50000' }, tiers: { type: 'string' } }, '7')
const count = Number(values.count)
const seed = Number(values.seed)
const log = createLogger({ level: 'warn' })
const cluster = await startMockCluster()
const bootstrapServers = cluster.bootstrapServers

interface Leg {
  readonly name: string
  readonly txPerSecond: number
  readonly seconds: number
  /** Poll → decision and event → decision (from the record's Kafka timestamp, set when it was sent). */
  readonly latency?: { p50: number; p99: number; eventP50: number; eventP99: number }
  /** Per stage and phase: records timed, and their time in it (fraudstream_stage_duration_seconds). */
  readonly stages?: readonly StageBudget[]
  /** The main thread's event-loop delay while the pipeline ran. */
  readonly eventLoop?: { p99Ms: number; maxMs: number }
  /** ClickHouse inserts and rows per insert. */
  readonly inserts?: { count: number; rowsPerInsert: number }
  /** Transactions that waited for the lookup tables (complete) or gave up waiting (stale). */
  readonly lookupWaits?: { complete: number; stale: number }
}

/** The generator runs in a child process: generating in this one would hold the event loop of what is measured. */
async function produce(topic: string, consumed: () => number): Promise<void> {
  await publishInChild({
    bootstrapServers,
    generator: { seed },
    topics: { transactions: topic, labels: `${topic}.labels` },
    count,
    rate: 'max',
    maxLeadRecords: 20_000,
    consumed,
    recordTimestamp: 'send-time',
  })
}

async function transportOnly(): Promise<Leg> {
  const topic = `bench-transport-${Date.now()}`
  let consumed = 0
  let firstMs = 0
  const source = await startPlainConsumer({
    bootstrapServers,
    topic,
    log,
    consumeBatchSize: 1_000,
    onRecords: (records) => {
      if (consumed === 0) firstMs = performance.now()
      consumed += records.length
    },
  })
  await produce(topic, () => consumed)
  while (consumed < count && source.failure() === undefined) await sleep(5)
  const failure = source.failure()
  if (failure)
    throw new FraudstreamError(ErrorCode.kafkaConsume, 'the transport leg lost its consumer', 'external', false, {
      cause: failure,
    })
  const seconds = (performance.now() - firstMs) / 1000
  await source.stop()
  return { name: 'transport (mock Kafka → no-op group consumer)', txPerSecond: count / seconds, seconds }
}

async function fullPipeline(name: string, overrides: Record<string, unknown> = {}): Promise<Leg> {
  const topic = `bench-pipeline-${Date.now()}`
  const bench = await startBenchPipeline({ bootstrapServers, topic, log, overrides })
  const { pipeline } = bench
  const loop = watchEventLoop()
  let firstMs = 0
  const watch = setInterval(() => {
    if (firstMs === 0 && pipeline.job.stats.consumed > 0) firstMs = performance.now()
  }, 1)
  await produce(topic, () => pipeline.job.stats.consumed)
  while (pipeline.job.stats.consumed < count) await sleep(5)
  await pipeline.job.drain()
  const seconds = (performance.now() - firstMs) / 1000
  clearInterval(watch)
  const eventLoop = loop.read()
  loop.stop()
  const latency = {
    p50: pipeline.latency.percentile(50),
    p99: pipeline.latency.percentile(99),
    eventP50: pipeline.eventLatency.percentile(50),
    eventP99: pipeline.eventLatency.percentile(99),
  }
  const stages = stageBudget(pipeline.metrics.stageDuration)
  const insertCount =
    (await pipeline.metrics.clickhouseInserts.get()).values.find(
      (v) => v.labels.result === 'ok' && v.labels.table === 'scores',
    )?.value ?? 0
  const insertedRows =
    (await pipeline.metrics.clickhouseRows.get()).values.find((v) => v.labels.table === 'scores')?.value ?? 0
  const inserts = { count: insertCount, rowsPerInsert: insertCount > 0 ? insertedRows / insertCount : 0 }
  const waits = (await pipeline.metrics.lookupWaits.get()).values
  const lookupWaits = {
    complete: waits.find((v) => v.labels.result === 'complete')?.value ?? 0,
    stale: waits.find((v) => v.labels.result === 'stale')?.value ?? 0,
  }
  await bench.close()
  return {
    name,
    txPerSecond: count / seconds,
    seconds,
    latency,
    stages,
    inserts,
    eventLoop,
    lookupWaits,
  }
}

const transport = await transportOnly()
const pipeline = await fullPipeline('pipeline (decode → … → ONNX → sinks → commit)')
// The same without the decisions' top features: what explanations cost the main thread (the graph still computes
// them; onnxruntime runs every node whatever is fetched).
const unexplained = await fullPipeline('pipeline, explanations off (infer.explainTopK 0)', { 'infer.explainTopK': 0 })
// `first[:approveBelow]`: the band's lower edge defaults to the one the usage names.
const [tiersFirst, approveBelow = '0.02'] = values.tiers?.split(':') ?? []
const tiered = tiersFirst
  ? await fullPipeline(`pipeline, tiered (${tiersFirst} below ${approveBelow} settles)`, {
      'infer.tiers.first': tiersFirst,
      'infer.tiers.approveBelow': Number(approveBelow),
    })
  : undefined
await cluster.close()
const ratio = pipeline.txPerSecond / transport.txPerSecond
const environment = {
  ...benchEnvironment(),
  count,
  seed,
  inferMaxRecords: 256,
  inferThreads: 2,
}
if (values.json) {
  process.stdout.write(`${JSON.stringify({ environment, transport, pipeline, unexplained, tiered, ratio })}\n`)
} else {
  process.stdout.write(
    [
      `e2e-closed-loop  node ${environment.node}, ${environment.cpus} cpus (${environment.cpu}), ${fmt(count)} transactions, seed ${seed}`,
      `  ${transport.name.padEnd(48)} ${fmt(transport.txPerSecond).padStart(9)} tx/s`,
      `  ${pipeline.name.padEnd(48)} ${fmt(pipeline.txPerSecond).padStart(9)} tx/s  event → decision p50 ${pipeline.latency!.eventP50.toFixed(1)} ms, p99 ${pipeline.latency!.eventP99.toFixed(1)} ms (poll → decision p99 ${pipeline.latency!.p99.toFixed(1)} ms)`,
      `  ${unexplained.name.padEnd(48)} ${fmt(unexplained.txPerSecond).padStart(9)} tx/s  event → decision p99 ${unexplained.latency!.eventP99.toFixed(1)} ms`,
      ...(tiered
        ? [
            `  ${tiered.name.padEnd(48)} ${fmt(tiered.txPerSecond).padStart(9)} tx/s  event → decision p99 ${tiered.latency!.eventP99.toFixed(1)} ms; tiered/pipeline = ${(tiered.txPerSecond / pipeline.txPerSecond).toFixed(2)}x`,
          ]
        : []),
      `  pipeline/transport = ${ratio.toFixed(3)}x  (${fmt(pipeline.txPerSecond)} vs ${fmt(transport.txPerSecond)} tx/s); explanations on/off = ${(pipeline.txPerSecond / unexplained.txPerSecond).toFixed(2)}x`,
      `  lookups          ${fmt(pipeline.lookupWaits!.complete)} transactions waited for the tables, ${fmt(pipeline.lookupWaits!.stale)} gave up (stale)`,
      `  clickhouse       ${fmt(pipeline.inserts!.count)} inserts into scores, ${fmt(pipeline.inserts!.rowsPerInsert)} rows each`,
      `  event loop       delay p99 ${pipeline.eventLoop!.p99Ms.toFixed(1)} ms, max ${pipeline.eventLoop!.maxMs.toFixed(1)} ms (the issue's bound: 2 ms)`,
      ...formatStageBudget(pipeline.stages!),
    ].join('\n') + '\n',
  )
}
