import type { Logger } from 'pino'
import { labels, labelsGroupId, labelsStats, type LabelsIO, type LabelsStats } from '../topology/labels.js'
import { topicsOf } from '../topology/card-fraud.js'
import { ClickhouseBatchSink } from './adapters/clickhouse/batch-sink.js'
import type { ClickHouseClient } from './adapters/clickhouse/client.js'
import { highSourceOffset } from './adapters/clickhouse/high-offset.js'
import { checkDedupWindow } from './adapters/clickhouse/migrate.js'
import { baseClientConfig } from './adapters/kafka/client-config.js'
import { KafkaSource } from './adapters/kafka/kafka-source.js'
import type { Config } from './config/schema.js'
import type { RecordSink } from './core/ports.js'
import type { Metrics } from './observability/metrics.js'
import type { JobOptions } from './runtime/job.js'
import { Job } from './runtime/job.js'
import { LABEL_COLUMNS, labelValuesOf, type LabelRow } from './stages/sinks/label-row.js'

export interface LabelsJobOptions {
  readonly config: Config
  readonly bootstrapServers: string
  readonly instanceId: string
  readonly clickhouse: ClickHouseClient
  /** Dead letters; the card-fraud job's producer serves. */
  readonly producer: RecordSink
  readonly runId: string
  /** The dedup-token scope the scores sink uses: a reset of the run's state renews both. */
  readonly tokenScope: string
  readonly metrics: Metrics
  readonly log: Logger
  /** Closed last in first out by the caller: the job stops before the sink it drains into. */
  readonly closers: (() => Promise<void>)[]
  readonly onFailure: ((err: Error) => void) | undefined
}

/**
 * Starts the labels sub-topology (topology/labels.ts) as a job of its own consumer group, writing into ClickHouse
 * through its own batch sink on the shared client.
 */
export async function startLabelsJob(options: LabelsJobOptions): Promise<Job<LabelsStats>> {
  const { config, clickhouse, metrics, log, closers } = options
  await checkDedupWindow(clickhouse, 'labels', config.clickhouse.dedupWindow)
  const sink = new ClickhouseBatchSink<LabelRow>({
    client: clickhouse,
    table: 'labels',
    columns: LABEL_COLUMNS,
    valuesOf: labelValuesOf,
    tokenScope: options.tokenScope,
    maxBatchRows: config.clickhouse.maxBatchRows,
    lingerMs: config.clickhouse.lingerMs,
    retryBackoffMs: config.clickhouse.retryBackoffMs,
    maxRetryBackoffMs: config.clickhouse.maxRetryBackoffMs,
    metrics,
    log: log.child({ component: 'clickhouse-labels' }),
  })
  closers.push(() => sink.close())
  const source = new KafkaSource({
    clientConfig: baseClientConfig(config, options.bootstrapServers, `${options.instanceId}-labels`),
    groupId: labelsGroupId(config),
    topics: [topicsOf(config).labels],
    // Every label belongs in the table, whatever the transactions' reset policy; a new group re-reading the topic
    // writes nothing twice, as the sink resumes after the rows already there.
    autoOffsetReset: 'earliest',
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
    consumeBatchSize: config.kafka.consumeBatchSize,
    // Labels are off the decision path: longer fetch waits cost nothing and spare the broker empty fetches.
    fetchWaitMaxMs: 100,
    log: log.child({ component: 'labels-source' }),
  })
  const jobLog = log.child({ component: 'labels-job' })
  const job = new Job({
    topology: labels(
      {
        producer: options.producer,
        labels: sink as LabelsIO['labels'],
        labelsHighOffset: (tp) => highSourceOffset(clickhouse, 'labels', tp, options.runId),
      },
      { config, runId: options.runId },
    ),
    source,
    autoOffsetReset: 'earliest',
    commitIntervalMs: config.runtime.commitIntervalMs,
    drainTimeoutMs: config.runtime.shutdownTimeoutMs,
    maxInFlight: config.runtime.maxInFlight,
    // No stage keeps state: nothing to snapshot, nothing to replay below the committed offset.
    snapshotIntervalMs: config.runtime.snapshotIntervalMs,
    log: jobLog,
    observe: labelsObserver(metrics),
    stats: labelsStats,
  })
  closers.push(() => job.stop())
  await job.start(options.onFailure ? { onFailure: options.onFailure } : {})
  log.info({ groupId: labelsGroupId(config), topic: topicsOf(config).labels }, 'labels job started')
  return job
}

/**
 * The labels job's node counts, dead letters and durations in the shared series. Its node names are its own; the
 * runtime's `queue` and `commit` series would mix with card-fraud's, so they get the topology's name.
 */
function labelsObserver(metrics: Metrics): JobOptions<LabelsStats>['observe'] {
  return {
    count: (stage, outcome, n) => metrics.stageRecords.inc({ stage, outcome }, n),
    durationOf: (stage) => {
      const series = metrics.stageDuration.series(stage === 'queue' || stage === 'commit' ? `labels:${stage}` : stage)
      return (ms, records) => series.observeMs(ms, records)
    },
    deadLetter: (stage, reason) => metrics.deadLetters.inc({ stage, reason }),
    restored: (n) => metrics.restored.inc(n),
    snapshotsSkipped: () => metrics.snapshotsSkipped.inc(),
    snapshotWritten: () => {},
    snapshotFailed: () => metrics.snapshotFailures.inc(),
  }
}
