import type { FeatureDefinition } from '../src/stages/features/feature-definition.js'

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS

/**
 * The features of the card-fraud topology, in the order models see them. Changing a line changes the
 * feature-contract hash, and models trained on the old contract are refused until retrained.
 *
 * Window semantics: at a transaction with event time t, a window of span W (and delay D, default 0) covers the
 * key's earlier events with time in (t − D − W, t − D], plus the current transaction when D = 0 and it passes the
 * window's filter, so training and serving see the same values. Resolution: exact — each card's events are kept
 * individually (no buckets) for the longest span + delay of this set. card+X keys and distinct counts compare country,
 * mcc and channel as exact codes, other fields as hashes (merchant_id: 41 bits, its column also holding the codes; a
 * collision among ten merchants of one card's window has odds near 2e-11). Watermark = max event time − allowed
 * lateness per partition; a late event is scored with the windows as they are, minus the events at or below watermark
 * − H, whether or not eviction or compaction removed them yet (so a replay scores it the same), and never enters them.
 * Windows of one key, filter, distinct field and delay are read together; H is the longest span + delay of the set
 * for those that are all counts or times since last of the card alone, without filter (they read event times only),
 * and for every other window the longest span + delay among the others (older events keep only their time). With
 * this set: 14 days for card_count_prior_week; 7 days for the rest, card_count_1h/24h/7d and card_seconds_since_last
 * included, since they are read with the card's sums and maxima.
 *
 * Lookup semantics (terminal, merchant): aggregates over every card's transactions, bucketed at the declared
 * resolution R. With E = floor((t − delay) / R) · R, the window covers the key's transactions with event time in
 * [E − span, E) (the aggregations: LookupAggregation in src/stages/features/feature-definition.ts); a label counts
 * when it was reported before floor((t − labelLag) / R) · R, the latest such label of a transaction winning. A
 * transaction is scored once the tables are complete up to those times (see `lookups.maxWaitMs`). A late transaction
 * enters no table, and t is its partition's watermark instead of its event time: the tables may have dropped the
 * older windows its own time would read, depending on how far other partitions had got, which no replay repeats.
 */
export const cardFraudFeatures: readonly FeatureDefinition[] = [
  { kind: 'derived', name: 'amount', field: 'amount', description: 'transaction amount in major units' },
  { kind: 'derived', name: 'log_amount', field: 'log1p_amount', description: 'ln(1 + amount)' },
  { kind: 'derived', name: 'is_night', field: 'is_night', description: '1 if the event hour (UTC) is 22:00–05:59' },
  { kind: 'derived', name: 'is_abroad', field: 'is_abroad', description: '1 if country differs from card_country' },
  { kind: 'derived', name: 'is_card_not_present', field: 'is_card_not_present', description: '1 for ecom and moto' },
  {
    kind: 'derived',
    name: 'is_zero_amount',
    field: 'is_zero_amount',
    description: '1 for amount 0 (card verification)',
  },
  { kind: 'derived', name: 'is_weekend', field: 'is_weekend', description: '1 on Saturday and Sunday (UTC)' },
  {
    kind: 'window',
    name: 'card_count_1h',
    key: 'card',
    aggregation: 'count',
    spanMs: HOUR_MS,
    description: 'card transactions in the last hour',
  },
  {
    kind: 'window',
    name: 'card_sum_1h',
    key: 'card',
    aggregation: 'sum',
    spanMs: HOUR_MS,
    description: 'card amount in the last hour',
  },
  {
    kind: 'window',
    name: 'card_count_24h',
    key: 'card',
    aggregation: 'count',
    spanMs: DAY_MS,
    description: 'card transactions in the last 24 hours',
  },
  {
    kind: 'window',
    name: 'card_sum_24h',
    key: 'card',
    aggregation: 'sum',
    spanMs: DAY_MS,
    description: 'card amount in the last 24 hours',
  },
  {
    kind: 'window',
    name: 'card_max_24h',
    key: 'card',
    aggregation: 'max',
    spanMs: DAY_MS,
    description: 'largest card amount in the last 24 hours',
  },
  {
    kind: 'window',
    name: 'card_count_7d',
    key: 'card',
    aggregation: 'count',
    spanMs: 7 * DAY_MS,
    description: 'card transactions in the last 7 days',
  },
  {
    kind: 'window',
    name: 'card_sum_7d',
    key: 'card',
    aggregation: 'sum',
    spanMs: 7 * DAY_MS,
    description: 'card amount in the last 7 days',
  },
  {
    kind: 'window',
    name: 'card_amount_over_mean_7d',
    key: 'card',
    aggregation: 'amount_over_mean',
    spanMs: 7 * DAY_MS,
    description: 'amount / mean card amount over 7 days (1 with no history)',
  },
  {
    kind: 'window',
    name: 'card_amount_zscore_7d',
    key: 'card',
    aggregation: 'zscore',
    spanMs: 7 * DAY_MS,
    description: '(amount − 7-day mean) / 7-day stddev of the card (0 when the stddev is 0)',
  },
  {
    kind: 'window',
    name: 'card_seconds_since_last',
    key: 'card',
    aggregation: 'seconds_since_last',
    spanMs: 7 * DAY_MS,
    description: 'seconds since the previous card transaction, capped at 7 days',
  },
  {
    kind: 'window',
    name: 'card_cnp_count_1h',
    key: 'card',
    filter: 'card_not_present',
    aggregation: 'count',
    spanMs: HOUR_MS,
    description: 'card-not-present transactions of the card in the last hour',
  },
  {
    kind: 'window',
    name: 'card_abroad_count_24h',
    key: 'card',
    filter: 'abroad',
    aggregation: 'count',
    spanMs: DAY_MS,
    description: 'transactions abroad of the card in the last 24 hours',
  },
  {
    kind: 'window',
    name: 'card_distinct_merchants_24h',
    key: 'card',
    aggregation: 'distinct_count',
    field: 'merchant_id',
    spanMs: DAY_MS,
    description: 'different merchants the card paid in the last 24 hours (card testing walks many)',
  },
  {
    kind: 'window',
    name: 'card_distinct_countries_7d',
    key: 'card',
    aggregation: 'distinct_count',
    field: 'country',
    spanMs: 7 * DAY_MS,
    description: 'different countries the card was used in over 7 days',
  },
  {
    kind: 'window',
    name: 'card_merchant_count_7d',
    key: 'card+merchant',
    aggregation: 'count',
    spanMs: 7 * DAY_MS,
    description: 'card transactions at this merchant in 7 days (1 = a new merchant for the card)',
  },
  {
    kind: 'lookup',
    name: 'terminal_tx_count_7d',
    key: 'terminal',
    aggregation: 'count',
    resolutionMs: HOUR_MS,
    spanMs: 7 * DAY_MS,
    delayMs: DAY_MS,
    labelLagMs: HOUR_MS,
    description: 'transactions at the terminal (all cards) in the 7 days ending a day ago',
  },
  {
    kind: 'lookup',
    name: 'terminal_fraud_count_7d',
    key: 'terminal',
    aggregation: 'fraud_count',
    resolutionMs: HOUR_MS,
    spanMs: 7 * DAY_MS,
    delayMs: DAY_MS,
    labelLagMs: HOUR_MS,
    description: 'of those, known fraud (labels reported up to an hour ago)',
  },
  {
    kind: 'lookup',
    name: 'terminal_fraud_ratio_7d',
    key: 'terminal',
    aggregation: 'fraud_ratio',
    resolutionMs: HOUR_MS,
    spanMs: 7 * DAY_MS,
    delayMs: DAY_MS,
    labelLagMs: HOUR_MS,
    description: 'known fraud / transactions at the terminal over the same window (a compromised terminal)',
  },
  {
    kind: 'lookup',
    name: 'merchant_fraud_ratio_7d',
    key: 'merchant',
    aggregation: 'fraud_ratio',
    resolutionMs: HOUR_MS,
    spanMs: 7 * DAY_MS,
    delayMs: DAY_MS,
    labelLagMs: HOUR_MS,
    description: 'known fraud / transactions at the merchant, 7 days ending a day ago',
  },
  {
    kind: 'window',
    name: 'card_count_prior_week',
    key: 'card',
    aggregation: 'count',
    spanMs: 7 * DAY_MS,
    delayMs: 7 * DAY_MS,
    description: 'card transactions in the week before the last 7 days (a baseline for velocity)',
  },
]
