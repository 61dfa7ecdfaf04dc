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
    alertsDigest: `${topic}.alerts.digest`,
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
  /** Config settings of this leg (dotted paths), over the benchmark's. */
  readonly overrides?: Record<string, unknown>
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
      ...options.overrides,
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
