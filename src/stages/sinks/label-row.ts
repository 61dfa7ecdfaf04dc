import type { Label } from '../../core/label-v1.js'
import type { SourceRecord } from '../../core/ports.js'
import { toClickhouseTime } from './score-row.js'

/** The columns of `labels`, in the order rows are sent. */
export const LABEL_COLUMNS = [
  'transaction_id',
  'card_id',
  'is_fraud',
  'source',
  'reported_at',
  'transaction_time',
  'terminal_id',
  'merchant_id',
  'known_at',
  'source_topic',
  'source_partition',
  'source_offset',
  'run_id',
] as const

/**
 * One `labels` row (clickhouse/migrations/003_labels.sql):
 *   transaction_id String, card_id String, is_fraud Bool, source LowCardinality(String),
 *   reported_at DateTime64(3,'UTC'), transaction_time Nullable(DateTime64(3,'UTC')), terminal_id String,
 *   merchant_id String, known_at DateTime64(3,'UTC'), source_topic LowCardinality(String), source_partition UInt32,
 *   source_offset UInt64, run_id LowCardinality(String)
 * Optional Label v1 fields the table keeps as String are '' when absent (an analyst's label carries the id alone);
 * transaction_time stays NULL, so a query cannot mistake a missing time for the epoch.
 */
export interface LabelRow extends Record<string, unknown> {
  readonly transaction_id: string
  readonly card_id: string
  readonly is_fraud: boolean
  readonly source: string
  readonly reported_at: string
  readonly transaction_time: string | null
  readonly terminal_id: string
  readonly merchant_id: string
  readonly known_at: string
  readonly source_topic: string
  readonly source_partition: number
  readonly source_offset: number
  readonly run_id: string
}

export function toLabelRow(label: Label, source: SourceRecord, runId: string): LabelRow {
  return {
    transaction_id: label.transaction_id,
    card_id: label.card_id ?? '',
    is_fraud: label.is_fraud,
    source: label.source,
    reported_at: toClickhouseTime(label.reportedAtMs),
    transaction_time: label.transactionTimeMs === undefined ? null : toClickhouseTime(label.transactionTimeMs),
    terminal_id: label.terminal_id ?? '',
    merchant_id: label.merchant_id ?? '',
    // A record without a timestamp (old message formats: −1) was known no earlier than it was reported; the label's
    // own time keeps the row deterministic in the record, so a replay writes the same value.
    known_at: toClickhouseTime(source.timestampMs > 0 ? source.timestampMs : label.reportedAtMs),
    source_topic: source.topic,
    source_partition: source.partition,
    source_offset: source.offset,
    run_id: runId,
  }
}

/** A row's values in LABEL_COLUMNS order (JSONCompactEachRow). */
export function labelValuesOf(row: LabelRow): unknown[] {
  return LABEL_COLUMNS.map((column) => row[column])
}
