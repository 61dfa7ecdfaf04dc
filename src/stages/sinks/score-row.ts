import { decisionAt } from '../decide/decide.js'
import type { DecisionV1 } from '../../core/records.js'
import type { SourcePosition } from '../../core/records.js'
import type { Transaction } from '../../core/transaction-v1.js'
import { featureColumn } from '../../adapters/clickhouse/feature-columns.js'

/** The columns of `scores` every row fills, before its features (one column each, `f_<name>`), in the order sent. */
export const SCORE_COLUMNS = [
  'transaction_id',
  'card_id',
  'customer_id',
  'merchant_id',
  'terminal_id',
  'amount',
  'currency',
  'mcc',
  'country',
  'card_country',
  'channel',
  'event_time',
  'decided_at',
  'score',
  'decision',
  'reasons',
  'rules',
  'rules_version',
  'explanation_features',
  'explanation_values',
  'model_name',
  'model_version',
  'model_role',
  'ab_arm',
  'tier',
  'feature_contract',
  'late',
  'latency_ms',
  'source_topic',
  'source_partition',
  'source_offset',
  'source_timestamp',
  'run_id',
] as const

/**
 * One `scores` row (clickhouse/migrations/002_scores_by_day.sql):
 *   transaction_id String, card_id String, customer_id String, merchant_id String, terminal_id String,
 *   amount Float64, currency/mcc/country/card_country/channel LowCardinality(String),
 *   event_time DateTime64(3,'UTC'), decided_at DateTime64(3,'UTC'), score Float32, decision LowCardinality(String),
 *   reasons Array(..), rules Array(..), rules_version LowCardinality(String) (007), explanation_features Array(..),
 *   explanation_values Array(Float32) (005), model_name, model_version, model_role, ab_arm (005), tier UInt8 (008: 0
 *   untiered, 1, 2), feature_contract LowCardinality(String),
 *   late Bool, latency_ms Float32, source_topic LowCardinality(String), source_partition UInt32,
 *   source_offset UInt64, source_timestamp DateTime64(3,'UTC') (004), run_id LowCardinality(String), and a Float32
 *   column `f_<name>` per feature
 *   (syncFeatureColumns). `features` here holds them by name, for the memory sink and tests.
 * DateTime64 values are sent as 'YYYY-MM-DD hh:mm:ss.sss' (UTC), the format the JSON input formats parse without
 * settings.
 */
export interface ScoreRow extends Record<string, unknown> {
  readonly transaction_id: string
  readonly source_offset: number
  readonly features: Readonly<Record<string, number>>
}

export function toScoreRow(input: {
  tx: Transaction
  decision: DecisionV1
  /** The part the deciding model played: champion, challenger, or fallback when the rules decided. */
  role: string
  featureNames: readonly string[]
  /** The feature row, at `rowAt` (default 0). */
  row: Float32Array
  rowAt?: number
  featureContract: string
  late: boolean
  source: SourcePosition
  /** When the record reached Kafka (its timestamp): the start of event → decision latency. */
  sourceTimestampMs: number
  runId: string
}): ScoreRow {
  const { tx, decision, row, rowAt = 0 } = input
  const features = featuresOf(input.featureNames)(row, rowAt)
  return {
    transaction_id: tx.transaction_id,
    card_id: tx.card_id,
    customer_id: tx.customer_id,
    merchant_id: tx.merchant_id,
    terminal_id: tx.terminal_id,
    amount: tx.amount,
    currency: tx.currency,
    mcc: tx.mcc,
    country: tx.country,
    card_country: tx.card_country,
    channel: tx.channel,
    event_time: toClickhouseTime(tx.eventTimeMs),
    decided_at: toClickhouseTime(Date.parse(decision.decided_at)),
    score: decision.score,
    decision: decision.decision,
    reasons: decision.reasons,
    rules: decision.rules,
    rules_version: decision.rules_version ?? '',
    explanation_features: decision.explanation?.map((e) => e.feature) ?? NONE,
    explanation_values: decision.explanation?.map((e) => e.contribution) ?? NONE,
    model_name: decision.model.name,
    model_version: decision.model.version,
    model_role: input.role,
    ab_arm: decision.arm ?? '',
    tier: decision.tier ?? 0,
    feature_contract: input.featureContract,
    features,
    late: input.late,
    latency_ms: decision.latency_ms,
    source_topic: input.source.topic,
    source_partition: input.source.partition,
    source_offset: input.source.offset,
    source_timestamp: toClickhouseTime(input.sourceTimestampMs),
    run_id: input.runId,
  }
}

const NONE: readonly never[] = []

/**
 * The row of a model that scored the transaction without deciding it: the deciding row with this model's score and
 * the decision its own thresholds would have made, without reasons, rules or explanation.
 */
export function sideScoreRow(
  decided: ScoreRow,
  side: { model: { name: string; version: string }; score: number; thresholds: { review: number; decline: number } },
): ScoreRow {
  const { score, thresholds } = side
  return {
    ...decided,
    score,
    decision: decisionAt(score, thresholds),
    reasons: NONE,
    rules: NONE,
    rules_version: '',
    explanation_features: NONE,
    explanation_values: NONE,
    model_name: side.model.name,
    model_version: side.model.version,
    model_role: 'shadow',
  }
}

export function toClickhouseTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

/** The columns a row of this feature set is inserted with: SCORE_COLUMNS, then its features' columns. */
export function scoreColumns(featureNames: readonly string[]): string[] {
  return [...SCORE_COLUMNS, ...featureNames.map(featureColumn)]
}

const valueArrays = new WeakMap<readonly string[], (row: ScoreRow) => unknown[]>()

/**
 * A row's values in scoreColumns' order (JSONCompactEachRow), by a function made for the feature set: one array
 * literal, no per-column lookup by name.
 */
export function scoreValuesOf(featureNames: readonly string[]): (row: ScoreRow) => unknown[] {
  let values = valueArrays.get(featureNames)
  if (!values) {
    const base = SCORE_COLUMNS.map((c) => `r[${JSON.stringify(c)}]`)
    const features = featureNames.map((name) => `f[${JSON.stringify(name)}]`)
    values = new Function('r', `const f = r.features; return [${[...base, ...features].join(', ')}]`) as (
      row: ScoreRow,
    ) => unknown[]
    valueArrays.set(featureNames, values)
  }
  return values
}

const featureObjects = new WeakMap<readonly string[], (row: Float32Array, at: number) => Record<string, number>>()

/**
 * The features map of a row, built by a function made for the feature set: an object literal with the names as
 * keys (computed, so that any name is an own key) gets one hidden class for every row (a loop of assignments makes each object a dictionary, several times
 * slower to build and to serialise).
 */
function featuresOf(names: readonly string[]): (row: Float32Array, at: number) => Record<string, number> {
  let build = featureObjects.get(names)
  if (!build) {
    const fields = names.map((name, i) => `[${JSON.stringify(name)}]: row[at + ${i}]`).join(', ')
    build = new Function('row', 'at', `return { ${fields} }`) as (
      row: Float32Array,
      at: number,
    ) => Record<string, number>
    featureObjects.set(names, build)
  }
  return build
}
