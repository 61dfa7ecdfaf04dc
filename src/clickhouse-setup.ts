import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { ClickhouseBatchSink } from './adapters/clickhouse/batch-sink.js'
import { createClickhouseClient, type ClickHouseClient } from './adapters/clickhouse/client.js'
import { syncFeatureColumns } from './adapters/clickhouse/feature-columns.js'
import { checkDedupWindow, migrate } from './adapters/clickhouse/migrate.js'
import type { Config } from './config/schema.js'
import type { Metrics } from './observability/metrics.js'
import { scoreColumns, scoreValuesOf, type ScoreRow } from './stages/sinks/score-row.js'

/** The tables a run writes rows of, each with a `run_id` column. */
const RUN_TABLES = ['scores', 'labels'] as const

/**
 * The job's ClickHouse, ready to write to: migrated, a column for every feature of the set, and a dedup window long
 * enough for the sink's retries (refused otherwise: RELIABILITY.md §4).
 */
export async function openClickhouse(
  config: Config,
  featureNames: readonly string[],
  closers: (() => Promise<void>)[],
): Promise<ClickHouseClient> {
  const client = await createClickhouseClient(config)
  closers.push(() => client.close())
  await migrate(client)
  await syncFeatureColumns(client, featureNames)
  await checkDedupWindow(client, 'scores', config.clickhouse.dedupWindow)
  return client
}

/**
 * Deletes a run's rows from every table it writes, for a reset under a new Kafka cluster whose offsets start again,
 * and returns the dedup-token scope to write with from now on: the deleted rows' tokens stay in the tables' dedup
 * windows, and a new batch with an old one's offset range would be dropped as its retry.
 */
export async function resetRunRows(client: ClickHouseClient, runId: string): Promise<string> {
  for (const table of RUN_TABLES)
    await client.command({
      query: `ALTER TABLE ${table} DELETE WHERE run_id = {runId:String} SETTINGS mutations_sync = 1`,
      query_params: { runId },
    })
  return `${runId}@${randomUUID().slice(0, 8)}`
}

/** The `scores` sink: a feature set's rows, batched across source partitions, one dedup token per batch. */
export function scoresBatchSink(options: {
  readonly client: ClickHouseClient
  readonly config: Config
  readonly featureNames: readonly string[]
  readonly tokenScope: string
  readonly metrics: Metrics
  readonly log: Logger
}): ClickhouseBatchSink<ScoreRow> {
  const { config } = options
  return new ClickhouseBatchSink<ScoreRow>({
    client: options.client,
    table: 'scores',
    columns: scoreColumns(options.featureNames),
    valuesOf: scoreValuesOf(options.featureNames),
    tokenScope: options.tokenScope,
    maxBatchRows: config.clickhouse.maxBatchRows,
    lingerMs: config.clickhouse.lingerMs,
    retryBackoffMs: config.clickhouse.retryBackoffMs,
    maxRetryBackoffMs: config.clickhouse.maxRetryBackoffMs,
    metrics: options.metrics,
    log: options.log,
  })
}
