import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Config } from '../../config/schema.js'
import type { ClickHouseClient } from './client.js'
import { queryRows as rowsOf } from './query-rows.js'

/** The query pack's drift query: `fraudstream drift` and the drift gauges run this file, so they agree with it. */
export const DRIFT_QUERY_FILE = fileURLToPath(new URL('../../../clickhouse/queries/drift.sql', import.meta.url))

const DAY_MS = 24 * 60 * 60 * 1000

/** [fromMs, toMs) of event time. */
export interface TimeWindow {
  readonly fromMs: number
  readonly toMs: number
}

export const DriftStatus = { ok: 'ok', warn: 'warn', alert: 'alert', noData: 'no_data' } as const
export type DriftStatus = (typeof DriftStatus)[keyof typeof DriftStatus]

/** One line of drift.sql: a feature (or `score`) in both windows. psi and ks are null without data on a side. */
export interface DriftRow {
  readonly feature: string
  readonly reference_rows: number
  readonly current_rows: number
  readonly psi: number | null
  readonly ks: number | null
  readonly status: DriftStatus
  readonly reference_median: number | null
  readonly current_median: number | null
}

/** 0 below warn, 1 warn, 2 alert: the worst status of the rows, as `drift` exits. `no_data` rows count as 0. */
export function driftLevelOf(rows: readonly DriftRow[]): 0 | 1 | 2 {
  if (rows.some((r) => r.status === DriftStatus.alert)) return 2
  return rows.some((r) => r.status === DriftStatus.warn) ? 1 : 0
}

/** ClickHouse's DateTime64 text for a time in ms: what drift.sql parses, unambiguous in UTC. */
export function clickhouseTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

/** The newest scored event of the run, in ms; undefined when the run has no scores. */
export async function newestEventMs(client: ClickHouseClient, runId: string): Promise<number | undefined> {
  const [row] = await rowsOf<{ n: string; newest: number }>(
    client,
    `SELECT count() AS n, toUnixTimestamp64Milli(max(event_time)) AS newest FROM scores WHERE run_id = {runId:String}`,
    { runId },
    'reading the newest scored event',
  )
  return row && Number(row.n) > 0 ? Number(row.newest) : undefined
}

/**
 * The windows to compare: each given one as it is; without `current`, the `currentSpanMs` up to just after the
 * newest scored event (data time, so a replay or a generated stream works as live data does); without `reference`,
 * the `referenceSpanMs` before the current window.
 */
export function defaultWindows(
  newestMs: number,
  given: { reference?: TimeWindow; current?: TimeWindow },
  spans: Pick<Config['analytics']['drift'], 'currentSpanMs' | 'referenceSpanMs'>,
): { reference: TimeWindow; current: TimeWindow } {
  const current = given.current ?? { fromMs: newestMs + 1 - spans.currentSpanMs, toMs: newestMs + 1 }
  const reference = given.reference ?? { fromMs: current.fromMs - spans.referenceSpanMs, toMs: current.fromMs }
  return { reference, current }
}

export interface DriftQuery {
  readonly runId: string
  readonly model: string
  /** Without one, drift.sql takes the version of `model` that decided most in the current window. */
  readonly version?: string
  readonly reference: TimeWindow
  readonly current: TimeWindow
  readonly drift: Pick<Config['analytics']['drift'], 'bins' | 'warn' | 'alert' | 'sampleRows'>
}

/**
 * PSI and KS of every feature and of the score, computed in ClickHouse by drift.sql, worst first: over the model
 * version's own rows in each window, whatever its role, without fallback rows (their score is no model's).
 */
export async function queryDrift(client: ClickHouseClient, q: DriftQuery): Promise<DriftRow[]> {
  const rows = await rowsOf<DriftRow>(
    client,
    readFileSync(DRIFT_QUERY_FILE, 'utf8'),
    {
      run_id: q.runId,
      model: q.model,
      model_version: q.version ?? '',
      reference_from: clickhouseTime(q.reference.fromMs),
      reference_to: clickhouseTime(q.reference.toMs),
      current_from: clickhouseTime(q.current.fromMs),
      current_to: clickhouseTime(q.current.toMs),
      bins: q.drift.bins,
      warn: q.drift.warn,
      alert: q.drift.alert,
      sample_rows: q.drift.sampleRows,
    },
    'the drift query',
  )
  return rows.map((r) => ({
    ...r,
    reference_rows: Number(r.reference_rows),
    current_rows: Number(r.current_rows),
    // Without data on one side the query's arithmetic is meaningless (nan, inf): say so with null.
    ...(r.status === DriftStatus.noData ? { psi: null, ks: null } : {}),
    ...(Number(r.reference_rows) === 0 ? { reference_median: null } : {}),
    ...(Number(r.current_rows) === 0 ? { current_median: null } : {}),
  }))
}

/** A model's alerts (review or decline) against the labels known now, over one window. */
export interface LabelMetrics {
  readonly window: TimeWindow
  readonly transactions: number
  readonly labelled: number
  readonly frauds: number
  readonly alerts: number
  readonly true_positives: number
  readonly precision: number | null
  readonly recall: number | null
  readonly f1: number | null
}

/**
 * Precision, recall and F1 of one model version's alerts over a window, as label-metrics.sql counts them per day:
 * its own rows whatever its role (a shadow's alerts are those its thresholds would have raised), without fallback
 * rows (the rules decided those, not the model); the latest label of each transaction, a transaction without one
 * counting as legitimate.
 */
export async function queryLabelMetrics(
  client: ClickHouseClient,
  q: { runId: string; model: string; version: string; window: TimeWindow },
): Promise<LabelMetrics> {
  const [row] = await rowsOf<Record<string, string | number>>(
    client,
    `SELECT count() AS transactions, countIf(l.has_label = 1) AS labelled, countIf(l.is_fraud) AS frauds,
            countIf(s.decision != 'approve') AS alerts, countIf(s.decision != 'approve' AND l.is_fraud) AS true_positives
     FROM scores AS s
     LEFT JOIN (SELECT transaction_id, 1 AS has_label, is_fraud FROM latest_labels WHERE run_id = 'live') AS l
         ON l.transaction_id = s.transaction_id
     WHERE s.run_id = {runId:String} AND s.model_name = {model:String} AND s.model_version = {version:String}
       AND s.model_role != 'fallback'
       AND s.event_time >= {from:DateTime64(3, 'UTC')} AND s.event_time < {to:DateTime64(3, 'UTC')}`,
    {
      runId: q.runId,
      model: q.model,
      version: q.version,
      from: clickhouseTime(q.window.fromMs),
      to: clickhouseTime(q.window.toMs),
    },
    'the label metrics query',
  )
  const n = (key: string) => Number(row?.[key] ?? 0)
  const tp = n('true_positives')
  const alerts = n('alerts')
  const frauds = n('frauds')
  return {
    window: q.window,
    transactions: n('transactions'),
    labelled: n('labelled'),
    frauds,
    alerts,
    true_positives: tp,
    precision: alerts === 0 ? null : tp / alerts,
    recall: frauds === 0 ? null : tp / frauds,
    f1: alerts + frauds === 0 ? null : (2 * tp) / (alerts + frauds),
  }
}

/** The latest matured window: `windowDays` ending `maturityDays` before the newest scored event. */
export function maturedWindow(newestMs: number, maturityDays: number, windowDays: number): TimeWindow {
  const toMs = newestMs + 1 - maturityDays * DAY_MS
  return { fromMs: toMs - windowDays * DAY_MS, toMs }
}

/** What the model card promises: review-or-decline recall and precision on the training holdout, and their F1. */
export interface ModelBaseline {
  readonly recall: number
  readonly precision: number
  readonly f1: number
  /** Where the figures come from, for the reader. */
  readonly source: string
}

/**
 * The baseline of a model's manifest `metrics`: `recall_at_review` and `precision_at_review` (alerts are reviews and
 * declines, score ≥ the review threshold), F1 computed from them. undefined when the manifest lacks either.
 */
export function baselineOf(metrics: Readonly<Record<string, number>> | undefined): ModelBaseline | undefined {
  const recall = metrics?.recall_at_review
  const precision = metrics?.precision_at_review
  if (typeof recall !== 'number' || typeof precision !== 'number') return undefined
  return {
    recall,
    precision,
    f1: recall + precision === 0 ? 0 : (2 * recall * precision) / (recall + precision),
    source: 'manifest metrics recall_at_review, precision_at_review (holdout)',
  }
}

export type RetrainAdvice =
  | { readonly kind: 'retrain'; readonly reasons: readonly string[] }
  | { readonly kind: 'keep'; readonly reasons: readonly string[] }
  /** Nothing to judge: no baseline, no matured window, or no fraud in it. */
  | { readonly kind: 'unknown'; readonly reasons: readonly string[] }

/** Retrain when recall or F1 of the matured window fell below the baseline by `margin` or more. */
export function retrainAdviceOf(
  metrics: LabelMetrics | undefined,
  baseline: ModelBaseline | undefined,
  margin: number,
): RetrainAdvice {
  if (baseline === undefined) return { kind: 'unknown', reasons: ['the model manifest records no recall/precision'] }
  if (metrics === undefined || metrics.transactions === 0)
    return { kind: 'unknown', reasons: ['no scores of this model version in the latest matured window'] }
  if (metrics.recall === null || metrics.f1 === null)
    return { kind: 'unknown', reasons: ['no labelled fraud in the latest matured window'] }
  const reasons: string[] = []
  const fmt = (x: number) => x.toFixed(3)
  if (metrics.recall < baseline.recall - margin)
    reasons.push(`recall ${fmt(metrics.recall)} < baseline ${fmt(baseline.recall)} − ${margin}`)
  if (metrics.f1 < baseline.f1 - margin) reasons.push(`F1 ${fmt(metrics.f1)} < baseline ${fmt(baseline.f1)} − ${margin}`)
  if (reasons.length > 0) return { kind: 'retrain', reasons }
  return {
    kind: 'keep',
    reasons: [
      `recall ${fmt(metrics.recall)} and F1 ${fmt(metrics.f1)} within ${margin} of baseline ${fmt(baseline.recall)} / ${fmt(baseline.f1)}`,
    ],
  }
}
