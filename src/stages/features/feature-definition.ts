import { createHash } from 'node:crypto'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'

/** Per-transaction values that need no state. A closed set: each has one implementation in `to-feature-row.ts`. */
export const DerivedField = [
  'amount',
  'log1p_amount',
  'is_night',
  'is_abroad',
  'is_card_not_present',
  'is_zero_amount',
  'hour_of_day',
  'is_weekend',
] as const
export type DerivedField = (typeof DerivedField)[number]

/** Transaction fields a `value_in` feature tests against a list of codes. */
export const CategoricalField = ['country', 'card_country', 'mcc', 'currency', 'channel', 'entry_mode'] as const
export type CategoricalField = (typeof CategoricalField)[number]

/**
 * Per-transaction values with parameters (derived-features.ts):
 *   hour_in { from, to }: 1 if the event hour (UTC) is in [from, to), wrapping past midnight when from > to
 *     (from 22 to 6 is 22:00–05:59; the built-in is_night);
 *   amount_at_least { value }: 1 if amount ≥ value (round-amount and high-value flags);
 *   value_in { of, values }: 1 if the transaction's `of` is one of `values` (high-risk MCCs, countries, channels).
 */
export type ParameterisedDerived =
  | { readonly field: 'hour_in'; readonly from: number; readonly to: number }
  | { readonly field: 'amount_at_least'; readonly value: number }
  | { readonly field: 'value_in'; readonly of: CategoricalField; readonly values: readonly string[] }

/**
 * Aggregations over the amounts in a window. stddev is the population standard deviation; zscore is
 * (amount − mean) / stddev of the window (0 when stddev is 0); amount_over_mean is amount / mean (1 when the mean
 * is 0); seconds_since_last is the gap to the previous event of the key, capped at the span.
 */
export const WindowAggregation = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'stddev',
  'zscore',
  'amount_over_mean',
  'seconds_since_last',
  'distinct_count',
] as const
export type WindowAggregation = (typeof WindowAggregation)[number]

/**
 * Fields a distinct_count counts. Events without the field (device_id and ip are optional) do not enter its
 * window. country, mcc and channel are compared as exact codes, the others as hashes of 52 bits, or 40–51 when the
 * field's column also holds the codes (event-layout.ts): two of ten values in one key's window colliding has odds
 * near 1e-14 (52 bits) or 2e-11 (41 bits, merchant_id in the default features).
 */
export const DistinctField = [
  'merchant_id',
  'terminal_id',
  'country',
  'mcc',
  'currency',
  'channel',
  'device_id',
  'ip',
] as const
export type DistinctField = (typeof DistinctField)[number]

/**
 * Window keys. Every key starts with the card: the transactions topic is keyed by card, so only card-prefixed keys
 * are complete in partition-local memory. Terminal and merchant aggregates are lookups (below).
 */
export const WindowKey = ['card', 'card+merchant', 'card+terminal', 'card+country'] as const
export type WindowKey = (typeof WindowKey)[number]

/** Only transactions passing the filter enter (and are counted by) the window. */
export const WindowFilter = ['abroad', 'card_not_present', 'night'] as const
export type WindowFilter = (typeof WindowFilter)[number]

/**
 * Keys of lookup tables: aggregates over every card's transactions at a terminal, merchant, customer (all their
 * cards) or device, computed in a second keyed stage (repartitioned through an internal topic) and held by every
 * scoring instance as an in-memory table. A transaction without the key's field (device_id is optional) has none.
 */
export const LookupKey = ['terminal', 'merchant', 'customer', 'device'] as const
export type LookupKey = (typeof LookupKey)[number]

/**
 * The window aggregations (see WindowAggregation), over the key's transactions in the lookup window, which never holds
 * the current one: count, sum, mean, min, max, stddev, zscore and amount_over_mean of their amounts (0, or 1 for
 * amount_over_mean, when the window is empty); seconds_since_last = from the newest of them to the window's end E,
 * capped at the span; distinct_count = different values of `field` among those that have it. And from labels:
 * fraud_count = the transactions whose label, as known at the label cutoff, says fraud (the latest label reported
 * before the cutoff wins), placed by the label's own transaction_time and fields: only labels carrying them count (a
 * correction without them changes nothing), and they can include transactions the count never saw (late, or never
 * scored here); fraud_ratio = fraud_count / count, at most 1 (0 when count is 0).
 */
export const LookupAggregation = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'stddev',
  'zscore',
  'amount_over_mean',
  'seconds_since_last',
  'distinct_count',
  'fraud_count',
  'fraud_ratio',
] as const
export type LookupAggregation = (typeof LookupAggregation)[number]

/**
 * Fields a lookup distinct_count counts (cards per terminal or device, devices per customer…), compared as 52-bit
 * hashes: a bucket keeps the hash of each value it saw, so a busy key's record grows by 9 bytes per distinct value.
 */
export const LookupDistinctField = [
  'card_id',
  'customer_id',
  'merchant_id',
  'terminal_id',
  'device_id',
  'ip',
  'country',
  'currency',
  'mcc',
  'channel',
] as const
export type LookupDistinctField = (typeof LookupDistinctField)[number]

export type FeatureDefinition =
  | { readonly kind: 'derived'; readonly name: string; readonly field: DerivedField; readonly description: string }
  | ({ readonly kind: 'derived'; readonly name: string; readonly description: string } & ParameterisedDerived)
  | {
      readonly kind: 'window'
      readonly name: string
      readonly key: WindowKey
      readonly aggregation: WindowAggregation
      /** The window at event time t covers (t − delayMs − spanMs, t − delayMs]. */
      readonly spanMs: number
      /** A window that ends delayMs before the event (label-maturity style); it never holds the current one. */
      readonly delayMs?: number
      readonly filter?: WindowFilter
      /** The field a distinct_count counts (required for it, refused for the other aggregations). */
      readonly field?: DistinctField
      readonly description: string
    }
  | {
      readonly kind: 'lookup'
      readonly name: string
      readonly key: LookupKey
      readonly aggregation: LookupAggregation
      /**
       * Time buckets: with E = floor((t − delayMs) / resolutionMs) · resolutionMs, the window at event time t covers
       * the key's transactions with event time in [E − spanMs, E). spanMs must be a multiple of resolutionMs.
       */
      readonly resolutionMs: number
      readonly spanMs: number
      /**
       * Lookups always end in the past: the table is fed asynchronously, and a scoring instance waits until the
       * table is complete up to E (in event time), which in live traffic it is long before. Must exceed the
       * allowed lateness.
       */
      readonly delayMs: number
      /**
       * Labels count when reported before C = floor((t − labelLagMs) / resolutionMs) · resolutionMs: a label feed
       * up to labelLagMs behind the transactions changes no feature and makes no transaction wait.
       */
      readonly labelLagMs: number
      /** The field a distinct_count counts (required for it, refused for the other aggregations). */
      readonly field?: LookupDistinctField
      readonly description: string
    }

export type DerivedFeature = Extract<FeatureDefinition, { kind: 'derived' }>
export type WindowFeature = Extract<FeatureDefinition, { kind: 'window' }>
export type LookupFeature = Extract<FeatureDefinition, { kind: 'lookup' }>

/** The longest span, delay or label lag: 30 days, the longest the feature definitions promise. */
const MAX_FEATURE_MS = 30 * 86_400_000

/**
 * What window and lookup features must both be: a field given exactly for distinct_count, and spans and resolutions
 * of 1 ms to 30 days, delays and label lags of 0 to 30 days, whole milliseconds. Whole: the compiled window pass
 * writes its times into its source as numbers (a fraction or an exponent there is a syntax error), and lookup buckets
 * are window ends compared exactly. 30 days bounds the history the card log and the lookup tables keep per key, and a
 * negative delay would reach into the future.
 */
export function validateFeature(d: WindowFeature | LookupFeature): void {
  if ((d.aggregation === 'distinct_count') !== (d.field !== undefined)) {
    throw new FraudstreamError(
      ErrorCode.configInvalid,
      `${d.kind} feature ${d.name}: ${d.field ? 'field is only for distinct_count' : 'distinct_count needs a field'}`,
      'input',
    )
  }
  const times: [field: string, ms: number, minMs: number][] =
    d.kind === 'window'
      ? [
          ['spanMs', d.spanMs, 1],
          ['delayMs', d.delayMs ?? 0, 0],
        ]
      : [
          ['resolutionMs', d.resolutionMs, 1],
          ['spanMs', d.spanMs, 1],
          ['delayMs', d.delayMs, 0],
          ['labelLagMs', d.labelLagMs, 0],
        ]
  for (const [field, ms, minMs] of times) {
    if (!Number.isInteger(ms) || ms < minMs || ms > MAX_FEATURE_MS) {
      throw new FraudstreamError(
        ErrorCode.configInvalid,
        `${d.kind} feature ${d.name}: ${field} ${ms} must be a whole number of milliseconds from ${minMs} to ${MAX_FEATURE_MS} (30 days)`,
        'input',
      )
    }
  }
}

/** A derived feature's parameters, in a fixed order: they change its values, so they are part of the contract. */
function derivedParameters(d: DerivedFeature): unknown[] {
  switch (d.field) {
    case 'hour_in':
      return [d.from, d.to]
    case 'amount_at_least':
      return [d.value]
    case 'value_in':
      return [d.of, [...d.values].sort()]
    default:
      return []
  }
}

/**
 * The feature-contract version: a hash of everything that changes a value (names, order, aggregations, spans),
 * not of descriptions. A model is bound to the hash it was trained with.
 */
export function featureContractHash(definitions: readonly FeatureDefinition[]): string {
  const semantic = definitions.map((d) => {
    switch (d.kind) {
      case 'derived':
        return ['derived', d.name, d.field, ...derivedParameters(d)]
      case 'window':
        return [
          'window',
          d.name,
          d.key,
          d.aggregation,
          d.spanMs,
          d.delayMs ?? 0,
          d.filter ?? null,
          ...(d.field ? [d.field] : []),
        ]
      case 'lookup':
        return [
          'lookup',
          d.name,
          d.key,
          d.aggregation,
          d.resolutionMs,
          d.spanMs,
          d.delayMs,
          d.labelLagMs,
          ...(d.field ? [d.field] : []),
        ]
    }
  })
  return createHash('sha256').update(JSON.stringify(semantic)).digest('hex').slice(0, 16)
}
