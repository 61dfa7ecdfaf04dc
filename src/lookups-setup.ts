import { topicsOf, type CardFraudIO } from '../topology/card-fraud.js'
import type { ClickHouseClient } from './adapters/clickhouse/client.js'
import { scoresAttribution } from './adapters/clickhouse/transaction-attribution.js'
import { baseClientConfig } from './adapters/kafka/client-config.js'
import { KafkaSource } from './adapters/kafka/kafka-source.js'
import { KafkaProducerSink } from './adapters/kafka/producer-sink.js'
import { KafkaTableReader } from './adapters/kafka/table-reader.js'
import type { Config } from './config/schema.js'
import { ErrorCode, FraudstreamError } from './core/errors.js'
import type { Logger } from './observability/logger.js'
import type { Metrics } from './observability/metrics.js'
import { sourceId } from './stages/lookups/lookup-facts.js'
import type { LookupPlan } from './stages/lookups/lookup-plan.js'
import { LookupTable } from './stages/lookups/lookup-table.js'
import { LookupTask } from './stages/lookups/lookup-task.js'
import { applyTableRecords } from './stages/lookups/table-records.js'

/**
 * The lookup side of the topology, when some feature reads a lookup table: this instance's copy of the tables
 * (read from the compacted tables topic) and its member of the lookup stage's group (label routing + aggregation).
 */
export async function startLookups(options: {
  config: Config
  plan: LookupPlan
  bootstrapServers: string
  instanceId: string
  metrics: Metrics
  log: Logger
  closers: (() => Promise<void>)[]
  onFailure: ((err: Error) => void) | undefined
  /** Where labels carrying the transaction id alone find their transaction: this run's `scores`. */
  clickhouse: ClickHouseClient
  runId: string
}): Promise<CardFraudIO['lookups']> {
  const { config, plan, metrics, log, closers } = options
  if (plan.columns.length === 0) return undefined
  // Facts, table records and watermarks are many small records off the decision path: batched longer than decisions.
  const producer = await KafkaProducerSink.connect({
    config: {
      ...baseClientConfig(config, options.bootstrapServers, `${options.instanceId}-lookups-producer`),
      'linger.ms': 5,
    },
    metrics,
    log: log.child({ component: 'lookup-producer' }),
  })
  closers.push(() => producer.close())
  const topics = topicsOf(config)
  const [factsPartitions, tablePartitions, txPartitions, labelPartitions] = await Promise.all(
    [topics.lookupFacts, topics.lookupTables, topics.transactions, topics.labels].map((t) =>
      producer.partitionCount(t),
    ),
  )
  if (factsPartitions !== tablePartitions) {
    throw new FraudstreamError(
      ErrorCode.kafkaTopicLayout,
      `${topics.lookupTables} has ${tablePartitions} partitions and ${topics.lookupFacts} ${factsPartitions}: the tables topic is the aggregators' changelog and needs as many`,
      'external',
    )
  }
  const table = new LookupTable(tablePartitions!)
  const tableReader = new KafkaTableReader({
    clientConfig: baseClientConfig(config, options.bootstrapServers, `${options.instanceId}-tables`),
    topic: topics.lookupTables,
    log: log.child({ component: 'lookup-table' }),
  })
  await tableReader.start((records) => applyTableRecords(table, records))
  closers.push(() => tableReader.stop())
  const source = new KafkaSource({
    clientConfig: baseClientConfig(config, options.bootstrapServers, `${options.instanceId}-lookups`),
    groupId: `${config.kafka.groupId}.lookups`,
    topics: [topics.labels, topics.lookupFacts],
    autoOffsetReset: 'earliest',
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
    consumeBatchSize: 1_000,
    fetchWaitMaxMs: 5,
    log: log.child({ component: 'lookup-source' }),
  })
  const expectedSources = [
    ...Array.from({ length: txPartitions! }, (_, p) => sourceId('tx', p)),
    ...Array.from({ length: labelPartitions! }, (_, p) => sourceId('labels', p)),
  ]
  const task = new LookupTask({
    source,
    producer,
    table,
    tableReader,
    plan,
    topics: { labels: topics.labels, facts: topics.lookupFacts, tables: topics.lookupTables },
    factsPartitions: factsPartitions!,
    expectedSources,
    allowedLatenessMs: config.windows.allowedLatenessMs,
    maxRecordBytes: config.decode.maxRecordBytes,
    flushIntervalMs: config.lookups.flushIntervalMs,
    publishIntervalMs: config.lookups.publishIntervalMs,
    commitIntervalMs: config.runtime.commitIntervalMs,
    drainTimeoutMs: config.runtime.shutdownTimeoutMs,
    attribution: scoresAttribution(options.clickhouse, options.runId),
    attributionIntervalMs: config.lookups.attributionIntervalMs,
    attributionTimeoutMs: config.lookups.attributionTimeoutMs,
    metrics,
    log: log.child({ component: 'lookups' }),
    ...(options.onFailure ? { onFailure: options.onFailure } : {}),
  })
  await task.start()
  closers.push(() => task.stop())
  const onTables = (keys: number, completeMs: number) => {
    metrics.lookupTableKeys.set(keys)
    if (Number.isFinite(completeMs)) metrics.lookupCompletenessLag.set((Date.now() - completeMs) / 1000)
  }
  return {
    producer,
    table,
    factsPartitions: factsPartitions!,
    onTables,
    onWaited: (waitedMs: number) => metrics.lookupWaitSeconds.observeMs(waitedMs),
  }
}
