import {
  alertsByDay,
  backtestCounts,
  hasLabels,
  maturedRows,
  scoredRunIds,
  type BacktestCounts,
  type BacktestScope,
} from '../adapters/clickhouse/backtest-queries.js'
import type { ClickHouseClient } from '../adapters/clickhouse/client.js'
import { clickhouseTime } from '../adapters/clickhouse/drift-queries.js'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'
import { cardPrecisionAtK, type CardPrecision } from '../training/card-precision.js'
import { evaluate, recallAtFpr } from '../training/evaluate.js'

export { backtestMarkdown, formatBacktestReport } from './backtest-format.js'

const DAY_MS = 24 * 60 * 60 * 1000

export interface BacktestOptions {
  /** The replay's run id (or 'live'). */
  readonly runId: string
  /** Labels reported after this (ms) are not known to the report. */
  readonly labelCutoffMs: number
  /** Transactions younger than this many days before the cutoff are left out of the label-based figures. */
  readonly maturityDays: number
  /**
   * `name@version` of the models to report, the first the baseline. Default: every model with rows in the run, the
   * one that decided the most transactions first.
   */
  readonly models?: readonly string[]
  /** Cards an investigator checks a day, for card precision@k (default 100). */
  readonly cardK?: number
  /** Whose labels: default the run's own labels when it has any (a replay of files), else 'live'. */
  readonly labelsRunId?: string
  /** Write the report into `backtest_reports` (default true). */
  readonly save?: boolean
  /** created_at of the report (default now). */
  readonly nowMs?: number
}

/** The figures compared between models: each model's minus the baseline's. */
export interface BacktestDiff {
  readonly auc_pr: number | null
  readonly recall_at_1pct_fpr: number | null
  readonly card_precision: number | null
  readonly review_rate: number
  readonly decline_rate: number
  readonly fraud_amount_caught: number
  readonly alerts_per_day: number
}

export interface BacktestModel {
  /** name@version. */
  readonly model: string
  readonly model_name: string
  readonly model_version: string
  readonly is_baseline: boolean
  /** The model's rows in the run (one per transaction it scored), fallback rows excluded. */
  readonly transactions: number
  readonly first_event_time: string
  readonly last_event_time: string
  /** Transactions old enough at the cutoff: the label-based figures count these. */
  readonly matured: number
  /** Transactions younger than the maturity at the cutoff, left out of the label-based figures. */
  readonly left_out_immature: number
  /** Matured transactions whose latest label at the cutoff says fraud. */
  readonly frauds: number
  /** Null without fraud or without legitimate transactions among the matured. */
  readonly auc_pr: number | null
  readonly recall_at_1pct_fpr: number | null
  /** Per day (UTC): cards ranked by their highest score, cards the model declined a fraud of on an earlier day dropped. */
  readonly card_precision: CardPrecision
  /** Shares of the model's own decisions in its rows. */
  readonly review_rate: number
  readonly decline_rate: number
  /** Amount of the matured frauds. */
  readonly fraud_amount: number
  /** Amount of the matured frauds the model reviewed or declined. */
  readonly fraud_amount_caught: number
  /** Declines per day, mean over the days the model scored. */
  readonly alerts_per_day: number
  readonly alerts_by_day: readonly { readonly day: string; readonly alerts: number }[]
  /** This model's figures minus the baseline's (0 for the baseline). */
  readonly diff: BacktestDiff
}

export interface BacktestReport {
  readonly run_id: string
  readonly created_at: string
  readonly label_cutoff: string
  readonly maturity_days: number
  /** Transactions at or before this time are matured. */
  readonly matured_before: string
  readonly labels_run_id: string
  readonly card_k: number
  /** The baseline first. */
  readonly models: readonly BacktestModel[]
}

/**
 * The backtest of a run: for each model that scored it, ranking metrics (AUC-PR, recall at 1 % FPR, card
 * precision@k per day) computed by the training code over the matured transactions with the labels known at the
 * cutoff, and what its decisions would have done (review and decline rates, fraud amount caught, alerts per day),
 * each against the baseline. Counts and per-day aggregates are computed in ClickHouse. Saved into `backtest_reports`
 * unless `save` is false.
 *
 * @example
 *   const report = await backtestReport(client, { runId: 'a', labelCutoffMs: Date.now(), maturityDays: 30 })
 *   process.stdout.write(formatBacktestReport(report))
 */
export async function backtestReport(client: ClickHouseClient, options: BacktestOptions): Promise<BacktestReport> {
  const cardK = options.cardK ?? 100
  const labelsRunId = options.labelsRunId ?? ((await hasLabels(client, options.runId)) ? options.runId : 'live')
  const scope: BacktestScope = {
    runId: options.runId,
    labelsRunId,
    labelCutoffMs: options.labelCutoffMs,
    maturedToMs: options.labelCutoffMs - options.maturityDays * DAY_MS,
  }
  const counts = await backtestCounts(client, scope)
  if (counts.length === 0) {
    const runs = await scoredRunIds(client, 10)
    throw new FraudstreamError(
      ErrorCode.usage,
      `no scores of run "${options.runId}": give the --run-id of a replay (${runs.length ? `runs with scores: ${runs.join(', ')}` : 'no run has scores yet'})`,
      'input',
    )
  }
  const chosen = chooseModels(counts, options.models)
  const days = await alertsByDay(client, scope)
  const models: Omit<BacktestModel, 'diff' | 'is_baseline'>[] = []
  for (const c of chosen) {
    const rows = await maturedRows(client, scope, { name: c.model_name, version: c.model_version })
    const positives = rows.labels.filter(Boolean).length
    const ranked = positives > 0 && positives < rows.labels.length
    const alerts = days
      .filter((d) => d.model_name === c.model_name && d.model_version === c.model_version)
      .map((d) => ({ day: d.day, alerts: d.alerts }))
    models.push({
      model: `${c.model_name}@${c.model_version}`,
      model_name: c.model_name,
      model_version: c.model_version,
      transactions: c.transactions,
      first_event_time: new Date(c.first_event_ms).toISOString(),
      last_event_time: new Date(c.last_event_ms).toISOString(),
      matured: c.matured,
      left_out_immature: c.transactions - c.matured,
      frauds: c.frauds,
      // Thresholds do not enter AUC-PR; evaluate needs some.
      auc_pr: ranked ? evaluate(rows.scores, rows.labels, { review: 1, decline: 1 }).auc_pr : null,
      recall_at_1pct_fpr: ranked ? recallAtFpr(rows.scores, rows.labels, 0.01) : null,
      card_precision: cardPrecisionAtK(rows, { k: cardK, declined: rows.declined }),
      review_rate: c.reviews / c.transactions,
      decline_rate: c.declines / c.transactions,
      fraud_amount: c.fraud_amount,
      fraud_amount_caught: c.fraud_amount_caught,
      alerts_per_day: alerts.length ? c.declines / alerts.length : 0,
      alerts_by_day: alerts,
    })
  }
  const base = models[0]!
  const minus = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b)
  const report: BacktestReport = {
    run_id: options.runId,
    created_at: new Date(options.nowMs ?? Date.now()).toISOString(),
    label_cutoff: new Date(options.labelCutoffMs).toISOString(),
    maturity_days: options.maturityDays,
    matured_before: new Date(scope.maturedToMs).toISOString(),
    labels_run_id: labelsRunId,
    card_k: cardK,
    models: models.map((m, i) => ({
      ...m,
      is_baseline: i === 0,
      diff: {
        auc_pr: minus(m.auc_pr, base.auc_pr),
        recall_at_1pct_fpr: minus(m.recall_at_1pct_fpr, base.recall_at_1pct_fpr),
        card_precision: minus(m.card_precision.mean, base.card_precision.mean),
        review_rate: m.review_rate - base.review_rate,
        decline_rate: m.decline_rate - base.decline_rate,
        fraud_amount_caught: m.fraud_amount_caught - base.fraud_amount_caught,
        alerts_per_day: m.alerts_per_day - base.alerts_per_day,
      },
    })),
  }
  if (options.save ?? true) await saveBacktestReport(client, report)
  return report
}

/** The models to report, in order: as given, or the one that decided most first. */
function chooseModels(counts: readonly BacktestCounts[], models: readonly string[] | undefined): BacktestCounts[] {
  if (models === undefined || models.length === 0) return [...counts]
  const scored = new Map(counts.map((c) => [`${c.model_name}@${c.model_version}`, c]))
  return models.map((ref) => {
    const c = scored.get(ref)
    if (!c) {
      throw new FraudstreamError(
        ErrorCode.usage,
        `model ${ref} has no scores in this run; models that scored it: ${[...scored.keys()].join(', ')}`,
        'input',
      )
    }
    return c
  })
}

/** The report as `backtest_reports` rows (migration 006), one per model, the baseline at position 0. */
export function backtestRows(report: BacktestReport): Record<string, unknown>[] {
  return report.models.map((m, position) => ({
    run_id: report.run_id,
    created_at: clickhouseTime(Date.parse(report.created_at)),
    position,
    model_name: m.model_name,
    model_version: m.model_version,
    is_baseline: m.is_baseline,
    label_cutoff: clickhouseTime(Date.parse(report.label_cutoff)),
    maturity_days: report.maturity_days,
    labels_run_id: report.labels_run_id,
    first_event_time: clickhouseTime(Date.parse(m.first_event_time)),
    last_event_time: clickhouseTime(Date.parse(m.last_event_time)),
    transactions: m.transactions,
    matured: m.matured,
    left_out_immature: m.left_out_immature,
    frauds: m.frauds,
    auc_pr: m.auc_pr,
    recall_at_1pct_fpr: m.recall_at_1pct_fpr,
    card_precision_k: report.card_k,
    card_precision: m.card_precision.mean,
    card_precision_by_day: Object.fromEntries(m.card_precision.days.map((d) => [d.day, d.precision])),
    review_rate: m.review_rate,
    decline_rate: m.decline_rate,
    fraud_amount: m.fraud_amount,
    fraud_amount_caught: m.fraud_amount_caught,
    alerts_per_day: m.alerts_per_day,
    alerts_by_day: Object.fromEntries(m.alerts_by_day.map((d) => [d.day, d.alerts])),
    diff_auc_pr: m.diff.auc_pr,
    diff_recall_at_1pct_fpr: m.diff.recall_at_1pct_fpr,
    diff_card_precision: m.diff.card_precision,
    diff_review_rate: m.diff.review_rate,
    diff_decline_rate: m.diff.decline_rate,
    diff_fraud_amount_caught: m.diff.fraud_amount_caught,
    diff_alerts_per_day: m.diff.alerts_per_day,
  }))
}

async function saveBacktestReport(client: ClickHouseClient, report: BacktestReport): Promise<void> {
  try {
    await client.insert({ table: 'backtest_reports', values: backtestRows(report), format: 'JSONEachRow' })
  } catch (err) {
    throw new FraudstreamError(
      ErrorCode.sinkClickhouse,
      `saving the backtest report into backtest_reports failed: ${errorMessageOf(err)} (run fraudstream migrate if the table is missing)`,
      'external',
      false,
      { cause: err },
    )
  }
}
