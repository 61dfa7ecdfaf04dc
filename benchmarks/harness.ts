// What the benchmarks that run the job share: the job as the demo runs it, a plain consumer for the transport
// baselines, the per-node budget, the event-loop delay and the environment line.
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { KafkaSource } from '../src/adapters/kafka/kafka-source.js'
import { loadConfig } from '../src/config/load.js'
import type { SourceRecord } from '../src/core/ports.js'
import { createPipeline, type Pipeline } from '../src/main.js'
import type { Metrics } from '../src/observability/metrics.js'

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

export function benchEnvironment(): { node: string; cpus: number; cpu: string } {
  return { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' }
}

/** The topics a benchmark's job reads and writes, named after its transactions topic. */
export function benchTopics(topic: string) {
  return {
    transactions: topic,
    decisions: `${topic}.decisions`,
    alerts: `${topic}.alerts`,
    dlq: `${topic}.dlq`,
    labels: `${topic}.labels`,
  }
}

export interface BenchPipeline {
  readonly pipeline: Pipeline
  readonly topic: string
  /** Closes the job and removes its ClickHouse data. */
  close(): Promise<void>
}

/**
 * The job as `fraudstream demo` runs it (default features and model, every sink on, embedded chDB in a temporary
 * directory) on `topic`, with the HTTP server off so runs side by side do not contend for its port.
 */
export async function startBenchPipeline(options: {
  readonly bootstrapServers: string
  readonly topic: string
  readonly log: Logger
}): Promise<BenchPipeline> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fraudstream-bench-'))
  const config = loadConfig({
    env: process.env,
    overrides: {
      environment: 'test',
      dataDir,
      'http.enabled': false,
      'kafka.groupId': `bench-${Date.now()}`,
      'kafka.topics': benchTopics(options.topic),
    },
  })
  const pipeline = await createPipeline({
    config,
    kafka: { bootstrapServers: options.bootstrapServers },
    log: options.log,
  })
  return {
    pipeline,
    topic: options.topic,
    close: async () => {
      await pipeline.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export interface PlainConsumer {
  /** Resolves once the group has assigned this consumer its partitions, read from offset 0. */
  readonly assigned: Promise<void>
  /** The consumer's error, if one came: a baseline that lost its consumer measures nothing. */
  failure(): Error | undefined
  stop(): Promise<void>
}

/** A group consumer that hands each poll to `onRecords` and does nothing else: the transport without the job. */
export async function startPlainConsumer(options: {
  readonly bootstrapServers: string
  readonly topic: string
  readonly log: Logger
  /** Records a poll returns at the most: large for throughput, the job's own size to read as the job does. */
  readonly consumeBatchSize: number
  readonly onRecords: (records: readonly SourceRecord[]) => void
}): Promise<PlainConsumer> {
  let failure: Error | undefined
  let onAssigned = () => {}
  const assigned = new Promise<void>((resolve) => (onAssigned = resolve))
  const source = new KafkaSource({
    clientConfig: { 'bootstrap.servers': options.bootstrapServers },
    groupId: `bench-plain-${Date.now()}`,
    topics: [options.topic],
    autoOffsetReset: 'earliest',
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    consumeBatchSize: options.consumeBatchSize,
    log: options.log,
  })
  await source.start({
    onAssign: async (partitions) => {
      onAssigned()
      return partitions.map((p) => ({ ...p, offset: 0 }))
    },
    onRevoke: async () => undefined,
    onCommitted: () => undefined,
    onRecords: options.onRecords,
    onError: (err) => (failure ??= err),
  })
  return { assigned, failure: () => failure, stop: () => source.stop() }
}

export interface StageBudget {
  readonly stage: string
  readonly batches: number
  readonly meanMs: number
  /** The histogram bucket bound the 99th-percentile batch falls under; null above the largest bucket (1 s). */
  readonly p99AtMostMs: number | null
  /** The node's busy time as a share of `seconds` (asynchronous nodes: until their batch settled). */
  readonly share: number
}

/** Per node, from fraudstream_stage_duration_seconds{stage}: what the node cost since the histogram's last reset. */
export async function stageBudget(metrics: Metrics, seconds: number): Promise<StageBudget[]> {
  const values = (await metrics.stageDuration.histogram.get()).values
  return [...new Set(values.map((v) => String(v.labels.stage)))].map((stage) => {
    const own = values.filter((v) => v.labels.stage === stage)
    const sum = own.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0
    const batches = own.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0
    // Buckets are cumulative counts by upper bound `le` (seconds; '+Inf' last).
    const p99 = own
      .filter((v) => v.metricName?.endsWith('_bucket'))
      .map((v) => {
        const le = (v.labels as { le?: string | number }).le
        return { le: le === '+Inf' ? Infinity : Number(le), count: v.value }
      })
      .sort((a, b) => a.le - b.le)
      .find((b) => b.count >= 0.99 * batches)
    const p99AtMostMs = p99 === undefined || p99.le === Infinity ? null : p99.le * 1000
    return { stage, batches, meanMs: batches > 0 ? (sum * 1000) / batches : 0, p99AtMostMs, share: sum / seconds }
  })
}

export function formatStageBudget(stages: readonly StageBudget[], indent = '    '): string[] {
  return stages.map(
    (s) =>
      `${indent}${s.stage.padEnd(14)} ${fmt(s.batches).padStart(7)}  ${s.meanMs.toFixed(3).padStart(8)} ms  p99 ${(s.p99AtMostMs === null ? '> 1000' : `≤ ${s.p99AtMostMs}`).padStart(8)} ms  ${(100 * s.share).toFixed(1).padStart(5)} %`,
  )
}

/**
 * How long this thread's event loop was held at a time (1 ms resolution): what every record waiting in it waited on
 * top of its own work.
 */
export function watchEventLoop(): { reset(): void; read(): { p99Ms: number; maxMs: number }; stop(): void } {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  return {
    reset: () => delay.reset(),
    read: () => ({ p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 }),
    stop: () => delay.disable(),
  }
}

export const rssMiB = () => process.memoryUsage().rss / 2 ** 20

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
