import type { ClickHouseClient } from './client.js'
import { clickhouseTime } from './drift-queries.js'
import { queryRows as rowsOf } from './query-rows.js'

/**
 * The backtest's reads of `scores` and `labels`. A model's rows are its own (model_name, model_version) whatever
 * their role, without fallback rows (the rules decided those, not the model: README "ClickHouse tables"). The label
 * of a transaction is the latest one (by reported_at, then offset) of the labels run reported at or before the cutoff,
 * as readTrainingRows reads it; a matured transaction without one is legitimate.
 */
export interface BacktestScope {
  readonly runId: string
  readonly labelsRunId: string
  readonly labelCutoffMs: number
  /** Transactions at or before this (cutoff − maturity) are matured: only they count in label-based figures. */
  readonly maturedToMs: number
}

const LABELS_AT_CUTOFF = `
    SELECT transaction_id, argMax(is_fraud, (reported_at, source_offset)) AS is_fraud
    FROM labels
    WHERE run_id = {labelsRunId:String} AND reported_at <= {cutoff:DateTime64(3, 'UTC')}
    GROUP BY transaction_id`

function paramsOf(scope: BacktestScope): Record<string, unknown> {
  return {
    runId: scope.runId,
    labelsRunId: scope.labelsRunId,
    cutoff: clickhouseTime(scope.labelCutoffMs),
    maturedTo: clickhouseTime(scope.maturedToMs),
  }
}

/** The run ids that have scores, most rows first: what an unknown --run-id error lists. */
export async function scoredRunIds(client: ClickHouseClient, limit: number): Promise<string[]> {
  const rows = await rowsOf<{ run_id: string }>(
    client,
    `SELECT run_id FROM scores GROUP BY run_id ORDER BY count() DESC, run_id LIMIT {limit:UInt32}`,
    { limit },
    'listing the runs with scores',
  )
  return rows.map((r) => r.run_id)
}

/** Whether the labels table holds labels of this run id (a replay of files writes its own). */
export async function hasLabels(client: ClickHouseClient, runId: string): Promise<boolean> {
  const [row] = await rowsOf<{ n: string }>(
    client,
    `SELECT count() AS n FROM (SELECT 1 FROM labels WHERE run_id = {runId:String} LIMIT 1)`,
    { runId },
    'looking for the labels of the run',
  )
  return Number(row?.n ?? 0) > 0
}

/** One model's counts over the run, computed in ClickHouse. */
export interface BacktestCounts {
  readonly model_name: string
  readonly model_version: string
  /** Rows where the model decided (champion or challenger): the baseline is the model that decided most. */
  readonly decided: number
  readonly transactions: number
  readonly reviews: number
  readonly declines: number
  readonly first_event_ms: number
  readonly last_event_ms: number
  readonly matured: number
  readonly frauds: number
  readonly fraud_amount: number
  /** Amount of matured frauds the model reviewed or declined. */
  readonly fraud_amount_caught: number
}

export async function backtestCounts(client: ClickHouseClient, scope: BacktestScope): Promise<BacktestCounts[]> {
  const rows = await rowsOf<Record<string, string | number>>(
    client,
    `SELECT s.model_name AS model_name, s.model_version AS model_version,
            countIf(s.model_role IN ('champion', 'challenger')) AS decided,
            count() AS transactions,
            countIf(s.decision = 'review') AS reviews,
            countIf(s.decision = 'decline') AS declines,
            toUnixTimestamp64Milli(min(s.event_time)) AS first_event_ms,
            toUnixTimestamp64Milli(max(s.event_time)) AS last_event_ms,
            countIf(s.event_time <= {maturedTo:DateTime64(3, 'UTC')}) AS matured,
            countIf(s.event_time <= {maturedTo:DateTime64(3, 'UTC')} AND l.is_fraud) AS frauds,
            sumIf(s.amount, s.event_time <= {maturedTo:DateTime64(3, 'UTC')} AND l.is_fraud) AS fraud_amount,
            sumIf(s.amount, s.event_time <= {maturedTo:DateTime64(3, 'UTC')} AND l.is_fraud
                            AND s.decision IN ('review', 'decline')) AS fraud_amount_caught
     FROM scores AS s
     LEFT JOIN (${LABELS_AT_CUTOFF}) AS l ON l.transaction_id = s.transaction_id
     WHERE s.run_id = {runId:String} AND s.model_role != 'fallback'
     GROUP BY model_name, model_version
     ORDER BY decided DESC, transactions DESC, model_name, model_version
     SETTINGS output_format_json_quote_64bit_integers = 0`,
    paramsOf(scope),
    'counting the backtest figures',
  )
  return rows.map((r) => ({
    model_name: String(r.model_name),
    model_version: String(r.model_version),
    decided: Number(r.decided),
    transactions: Number(r.transactions),
    reviews: Number(r.reviews),
    declines: Number(r.declines),
    first_event_ms: Number(r.first_event_ms),
    last_event_ms: Number(r.last_event_ms),
    matured: Number(r.matured),
    frauds: Number(r.frauds),
    fraud_amount: Number(r.fraud_amount),
    fraud_amount_caught: Number(r.fraud_amount_caught),
  }))
}

/** Declines per UTC day of event time, per model, over the days the model scored (a day without one reads 0). */
export async function alertsByDay(
  client: ClickHouseClient,
  scope: BacktestScope,
): Promise<{ model_name: string; model_version: string; day: string; alerts: number }[]> {
  const rows = await rowsOf<{ model_name: string; model_version: string; day: string; alerts: string | number }>(
    client,
    `SELECT model_name, model_version, toString(toDate(event_time)) AS day, countIf(decision = 'decline') AS alerts
     FROM scores
     WHERE run_id = {runId:String} AND model_role != 'fallback'
     GROUP BY model_name, model_version, day
     ORDER BY model_name, model_version, day`,
    paramsOf(scope),
    'counting alerts per day',
  )
  return rows.map((r) => ({ ...r, alerts: Number(r.alerts) }))
}

/** A model's matured rows, oldest first, with their label at the cutoff: what the ranking metrics read. */
export interface MaturedRows {
  readonly scores: number[]
  readonly labels: boolean[]
  readonly declined: boolean[]
  readonly cardIds: string[]
  readonly eventTimesMs: number[]
}

export async function maturedRows(
  client: ClickHouseClient,
  scope: BacktestScope,
  model: { readonly name: string; readonly version: string },
): Promise<MaturedRows> {
  const rows = await rowsOf<[number, number, number, string, number]>(
    client,
    `SELECT toFloat64(s.score), toUInt8(l.is_fraud), toUInt8(s.decision = 'decline'), s.card_id,
            toUnixTimestamp64Milli(s.event_time)
     FROM scores AS s
     LEFT JOIN (${LABELS_AT_CUTOFF}) AS l ON l.transaction_id = s.transaction_id
     WHERE s.run_id = {runId:String} AND s.model_role != 'fallback'
       AND s.model_name = {model:String} AND s.model_version = {version:String}
       AND s.event_time <= {maturedTo:DateTime64(3, 'UTC')}
     ORDER BY s.event_time, s.transaction_id
     SETTINGS output_format_json_quote_64bit_integers = 0`,
    { ...paramsOf(scope), model: model.name, version: model.version },
    'reading the matured scores and their labels',
    'JSONCompactEachRow',
  )
  const out: MaturedRows = { scores: [], labels: [], declined: [], cardIds: [], eventTimesMs: [] }
  for (const [score, fraud, declined, card, eventMs] of rows) {
    out.scores.push(Number(score))
    out.labels.push(Number(fraud) === 1)
    out.declined.push(Number(declined) === 1)
    out.cardIds.push(card)
    out.eventTimesMs.push(Number(eventMs))
  }
  return out
}
