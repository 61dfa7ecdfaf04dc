import type { ClickHouseClient } from './client.js'
import { queryRows as rowsOf } from './query-rows.js'
import { clickhouseTime } from './drift-queries.js'
import { featureColumn, quoteIdentifier } from './feature-columns.js'

const DAY_MS = 24 * 60 * 60 * 1000

export interface TrainingRowsQuery {
  /** The scores' run: 'live', or a replay's run that rescored history with the current features. */
  readonly runId: string
  /** [fromMs, toMs) of event time. */
  readonly fromMs: number
  readonly toMs: number
  /** The feature set's contract hash and names, in the model's column order. */
  readonly featureContract: string
  readonly featureNames: readonly string[]
  /** The label of a transaction is the latest one (by reported_at, then offset) reported at or before this (ms). */
  readonly labelCutoffMs: number
}

/** A scored transaction as logged at scoring time, and its latest label at the cutoff (undefined: none known). */
export interface TrainingRow {
  readonly transactionId: string
  readonly cardId: string
  readonly amount: number
  readonly eventTimeMs: number
  readonly features: Float32Array
  readonly isFraud: boolean | undefined
}

/** How many rows of each feature contract the window holds. */
export interface ContractCount {
  readonly feature_contract: string
  readonly rows: number
  readonly first_event_ms: number
  readonly last_event_ms: number
}


/** The window's scores per feature contract, most rows first: what `train --from-clickhouse` checks first. */
export async function contractsInWindow(
  client: ClickHouseClient,
  query: Pick<TrainingRowsQuery, 'runId' | 'fromMs' | 'toMs'>,
): Promise<ContractCount[]> {
  const rows = await rowsOf<{ feature_contract: string; rows: string; first: string; last: string }>(
    client,
    `SELECT feature_contract, count() AS rows, toUnixTimestamp64Milli(min(event_time)) AS first,
            toUnixTimestamp64Milli(max(event_time)) AS last
     FROM scores
     WHERE run_id = {runId:String} AND event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
     GROUP BY feature_contract
     ORDER BY rows DESC, feature_contract`,
    { runId: query.runId, from: clickhouseTime(query.fromMs), to: clickhouseTime(query.toMs) },
    'reading the feature contracts of the scores',
  )
  return rows.map((r) => ({
    feature_contract: r.feature_contract,
    rows: Number(r.rows),
    first_event_ms: Number(r.first),
    last_event_ms: Number(r.last),
  }))
}

/** The feature names among `names` that `scores` has no `f_<name>` column for. */
export async function missingFeatureColumns(client: ClickHouseClient, names: readonly string[]): Promise<string[]> {
  const rows = await rowsOf<{ name: string }>(
    client,
    `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'scores' AND startsWith(name, 'f_')`,
    {},
    'reading the feature columns of scores',
  )
  const present = new Set(rows.map((r) => r.name))
  return names.filter((n) => !present.has(featureColumn(n)))
}

/**
 * Every scored transaction of the window on the given feature contract, oldest first (event time, then id), with the
 * features as the model saw them (the `f_<name>` Float32 columns) and the latest label reported at or before the
 * cutoff. One row per transaction: if several models scored it (shadows), their rows carry the same features, and
 * the first by model name and version is read. Read a day at a time, so memory holds one day's result text and
 * `onDay` can report progress.
 *
 * The label is `argMax(is_fraud, (reported_at, source_offset))` over the `labels` rows of run 'live' reported by the
 * cutoff: latest_labels' choice (migration 003), restricted to what was known then.
 */
export async function readTrainingRows(
  client: ClickHouseClient,
  query: TrainingRowsQuery,
  onRow: (row: TrainingRow) => void,
  onDay?: (doneMs: number, totalMs: number) => void,
): Promise<void> {
  const columns = query.featureNames.map((n) => quoteIdentifier(featureColumn(n))).join(', ')
  // Float32 nan and inf are written as strings ("nan", "inf") so the result stays JSON.
  const sql = `
    SELECT s.transaction_id AS transaction_id, s.card_id AS card_id, s.amount AS amount,
           toUnixTimestamp64Milli(s.event_time) AS event_ms, s.features AS features,
           l.known AS known, l.is_fraud AS is_fraud
    FROM
    (
        SELECT transaction_id, card_id, amount, event_time, [${columns}] AS features
        FROM scores
        WHERE run_id = {runId:String} AND feature_contract = {contract:String}
          AND event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
        ORDER BY event_time, transaction_id, model_name, model_version
        LIMIT 1 BY transaction_id
    ) AS s
    LEFT JOIN
    (
        SELECT transaction_id, 1 AS known, argMax(is_fraud, (reported_at, source_offset)) AS is_fraud
        FROM labels
        WHERE run_id = 'live' AND reported_at <= {cutoff:DateTime64(3, 'UTC')}
        GROUP BY transaction_id
    ) AS l ON l.transaction_id = s.transaction_id
    ORDER BY event_ms, transaction_id
    SETTINGS output_format_json_quote_denormals = 1, output_format_json_quote_64bit_integers = 0`
  const totalMs = query.toMs - query.fromMs
  for (let fromMs = query.fromMs; fromMs < query.toMs; fromMs = Math.min(query.toMs, fromMs + DAY_MS)) {
    const toMs = Math.min(query.toMs, fromMs + DAY_MS)
    const rows = await rowsOf<{
      transaction_id: string
      card_id: string
      amount: number
      event_ms: number
      features: (number | string)[]
      known: number
      is_fraud: boolean | number
    }>(
      client,
      sql,
      {
        runId: query.runId,
        contract: query.featureContract,
        from: clickhouseTime(fromMs),
        to: clickhouseTime(toMs),
        cutoff: clickhouseTime(query.labelCutoffMs),
      },
      'reading training rows from scores and labels',
    )
    for (const r of rows) {
      onRow({
        transactionId: r.transaction_id,
        cardId: r.card_id,
        amount: Number(r.amount),
        eventTimeMs: Number(r.event_ms),
        features: Float32Array.from(r.features, floatOf),
        isFraud: Number(r.known) === 1 ? Boolean(r.is_fraud) : undefined,
      })
    }
    onDay?.(toMs - query.fromMs, totalMs)
  }
}

/** A Float32 as ClickHouse writes it in JSON with quoted denormals: a number, or "nan", "inf", "-inf". */
function floatOf(value: number | string): number {
  if (typeof value === 'number') return value
  if (value === 'inf' || value === '+inf') return Infinity
  if (value === '-inf') return -Infinity
  return Number(value)
}
