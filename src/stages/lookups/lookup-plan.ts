import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { Transaction } from '../../core/transaction-v1.js'
import {
  validateFeature,
  type FeatureDefinition,
  type LookupDistinctField,
  type LookupFeature,
  type LookupKey,
} from '../features/feature-definition.js'
import {
  EMPTY_AGGREGATE,
  lookupValueOf,
  lookupWindow,
  summarize,
  type KeyAggregate,
  type WindowSummary,
} from './key-aggregate.js'
import type { WindowSummaries } from './window-summaries.js'

/** What the lookup features of a feature set need from the tables, worked out once. */
export interface LookupPlan {
  /** Lookup features with their column in the feature row. */
  readonly columns: readonly { readonly index: number; readonly feature: LookupFeature }[]
  /** The table keys a transaction contributes to, one per key kind some feature reads. */
  readonly keys: readonly LookupKey[]
  /** Bucket width per key kind: the finest resolution of its features (each a multiple of it). */
  readonly resolutionMs: ReadonlyMap<LookupKey, number>
  /** History per key kind: a bucket older than (complete-below − horizon) can be in no future window. */
  readonly horizonMs: ReadonlyMap<LookupKey, number>
  /** Per key kind, the fields its distinct_count features count: a transaction's fact carries their values. */
  readonly distinctFields: ReadonlyMap<LookupKey, readonly LookupDistinctField[]>
}

/** Table completeness a transaction's lookups need: every fact with event time below `txMs`, every label reported before `labelsMs`. */
export interface LookupRequirement {
  readonly txMs: number
  readonly labelsMs: number
}

/** The transaction field each lookup key reads (labels carry the same fields, optionally). */
export const LOOKUP_KEY_FIELD = {
  terminal: 'terminal_id',
  merchant: 'merchant_id',
  customer: 'customer_id',
  device: 'device_id',
} as const satisfies Record<LookupKey, string>
export type LookupIds = { readonly [F in (typeof LOOKUP_KEY_FIELD)[LookupKey]]?: string | undefined }

/** The table key of a transaction (or label) for a key kind, undefined without the field; kinds contain no ':'. */
export function lookupKeyOf(kind: LookupKey, ids: LookupIds): string | undefined {
  const id = ids[LOOKUP_KEY_FIELD[kind]]
  return id === undefined ? undefined : `${kind}:${id}`
}

/**
 * Validates the lookup features and plans their tables. A delay or label lag not above the allowed lateness would
 * make every transaction wait: watermarks trail the newest event by the lateness.
 */
export function lookupPlanOf(definitions: readonly FeatureDefinition[], allowedLatenessMs = 0): LookupPlan {
  const columns: { index: number; feature: LookupFeature }[] = []
  const resolutionMs = new Map<LookupKey, number>()
  const horizonMs = new Map<LookupKey, number>()
  const distinctFields = new Map<LookupKey, LookupDistinctField[]>()
  definitions.forEach((feature, index) => {
    if (feature.kind !== 'lookup') return
    const invalid = (why: string) =>
      new FraudstreamError(ErrorCode.configInvalid, `lookup feature ${feature.name}: ${why}`, 'input')
    validateFeature(feature)
    if (feature.spanMs % feature.resolutionMs !== 0)
      throw invalid(`spanMs (${feature.spanMs}) must be a multiple of resolutionMs (${feature.resolutionMs})`)
    if (feature.delayMs <= allowedLatenessMs)
      throw invalid(`delayMs (${feature.delayMs}) must exceed the allowed lateness (${allowedLatenessMs})`)
    if (feature.labelLagMs <= allowedLatenessMs)
      throw invalid(`labelLagMs (${feature.labelLagMs}) must exceed the allowed lateness (${allowedLatenessMs})`)
    columns.push({ index, feature })
    resolutionMs.set(feature.key, Math.min(resolutionMs.get(feature.key) ?? Infinity, feature.resolutionMs))
    horizonMs.set(
      feature.key,
      Math.max(horizonMs.get(feature.key) ?? 0, feature.delayMs + feature.spanMs + feature.resolutionMs),
    )
    if (feature.field) {
      const fields = distinctFields.get(feature.key) ?? []
      if (!fields.includes(feature.field)) distinctFields.set(feature.key, [...fields, feature.field])
    }
  })
  for (const { feature } of columns) {
    if (feature.resolutionMs % resolutionMs.get(feature.key)! !== 0) {
      throw new FraudstreamError(
        ErrorCode.configInvalid,
        `lookup feature ${feature.name}: resolutionMs must be a multiple of ${resolutionMs.get(feature.key)} (the finest ${feature.key} resolution)`,
        'input',
      )
    }
  }
  return { columns, keys: [...resolutionMs.keys()], resolutionMs, horizonMs, distinctFields }
}

export function windowEndMs(feature: LookupFeature, eventTimeMs: number): number {
  return Math.floor((eventTimeMs - feature.delayMs) / feature.resolutionMs) * feature.resolutionMs
}

export function labelCutoffMs(feature: LookupFeature, eventTimeMs: number): number {
  return Math.floor((eventTimeMs - feature.labelLagMs) / feature.resolutionMs) * feature.resolutionMs
}

export function requirementOf(plan: LookupPlan, eventTimeMs: number): LookupRequirement {
  let txMs = -Infinity
  let labelsMs = -Infinity
  for (const { feature } of plan.columns) {
    txMs = Math.max(txMs, windowEndMs(feature, eventTimeMs))
    if (feature.aggregation === 'fraud_count' || feature.aggregation === 'fraud_ratio')
      labelsMs = Math.max(labelsMs, labelCutoffMs(feature, eventTimeMs))
  }
  return { txMs, labelsMs }
}

/**
 * Writes the lookup columns of the row at `rowAt` of `row` from the tables as they are, read at `atMs`
 * (PartitionState.observe's lookupAtMs); the caller decides whether they are complete enough. With `summaries`
 * (a table's, kept in step with its records), window sums are reused across transactions instead of re-added.
 */
export function fillLookups(
  plan: LookupPlan,
  row: Float32Array,
  tx: Transaction,
  atMs: number,
  aggregateOf: (key: string) => KeyAggregate | undefined,
  rowAt = 0,
  summaries?: Pick<WindowSummaries, 'summaryOf'>,
): void {
  const read = { eventTimeMs: atMs, amount: tx.amount }
  let kind: LookupKey | undefined
  let aggregate: KeyAggregate = EMPTY_AGGREGATE
  // Without a table's summaries, the last window's summary: a key kind's features mostly share one window (a count,
  // its fraud count and their ratio), which is then added up, and its labels counted, once.
  let last: WindowSummary | undefined
  for (const { index, feature } of plan.columns) {
    // Columns of one key kind read one aggregate.
    if (feature.key !== kind) {
      kind = feature.key
      const key = lookupKeyOf(kind, tx)
      aggregate = (key === undefined ? undefined : aggregateOf(key)) ?? EMPTY_AGGREGATE
      last = undefined
    }
    const { startMs, endMs } = lookupWindow(feature, atMs)
    let summary: WindowSummary
    if (summaries) summary = summaries.summaryOf(aggregate, startMs, endMs)
    else if (last && last.startMs === startMs && last.endMs === endMs) summary = last
    else summary = last = summarize(aggregate, startMs, endMs)
    row[rowAt + index] = lookupValueOf(summary, aggregate, feature, read)
  }
}
