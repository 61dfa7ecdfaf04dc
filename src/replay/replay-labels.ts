import { basename } from 'node:path'
import type { Logger } from 'pino'
import { ClickhouseBatchSink } from '../adapters/clickhouse/batch-sink.js'
import type { ClickHouseClient } from '../adapters/clickhouse/client.js'
import { partitionOf, type Partitioner } from '../adapters/kafka/partitioner.js'
import type { Config } from '../config/schema.js'
import { createMetrics } from '../observability/metrics.js'
import { parseDumpLine, readLines } from '../offline/dump-line.js'
import { decodeLabel } from '../stages/decode/decode-transaction.js'
import { LABEL_COLUMNS, labelValuesOf, toLabelRow, type LabelRow } from '../stages/sinks/label-row.js'

/**
 * The labels of a file replay into the `labels` table under its run id, as the labels job writes the topic's under
 * `live`: a backtest of the run reads the labels that came with its transactions (invalid lines are skipped, as the
 * labels job dead-letters them). Returns how many were written.
 */
export async function writeReplayLabels(options: {
  readonly client: ClickHouseClient
  readonly config: Config
  readonly path: string
  readonly labelPartitions: number
  readonly partitioner: Partitioner
  readonly runId: string
  readonly log: Logger
}): Promise<number> {
  const { config } = options
  const sink = new ClickhouseBatchSink<LabelRow>({
    client: options.client,
    table: 'labels',
    columns: LABEL_COLUMNS,
    valuesOf: labelValuesOf,
    tokenScope: options.runId,
    maxBatchRows: config.clickhouse.maxBatchRows,
    lingerMs: config.clickhouse.lingerMs,
    retryBackoffMs: config.clickhouse.retryBackoffMs,
    maxRetryBackoffMs: config.clickhouse.maxRetryBackoffMs,
    metrics: createMetrics(),
    log: options.log.child({ component: 'replay-labels' }),
  })
  const topic = `file:${basename(options.path)}`
  let line = 0
  let written = 0
  try {
    for await (const bytes of readLines(options.path)) {
      line++
      const record = parseDumpLine(bytes)
      const decoded = decodeLabel(record.value, { maxRecordBytes: config.decode.maxRecordBytes })
      if (decoded.kind === 'invalid') continue
      const label = decoded.label
      const partition =
        record.partition ?? partitionOf(label.transaction_id, options.labelPartitions, options.partitioner)
      const source = { topic, partition, offset: record.offset ?? line, key: null, value: null }
      const row = toLabelRow(label, { ...source, timestampMs: record.timestampMs ?? 0 }, options.runId)
      sink.add(topic, partition, source.offset, [row], () => {})
      written++
    }
    await sink.flush()
  } finally {
    await sink.close()
  }
  return written
}
