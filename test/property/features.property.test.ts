import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Transaction } from '../../src/core/transaction-v1.js'
import { pack, unpack } from 'msgpackr'
import { PartitionState, type PartitionSnapshot } from '../../src/offline/partition-state.js'
import type { FeatureDefinition } from '../../src/stages/features/feature-definition.js'
import { referenceFeatureRow } from '../../src/stages/features/reference-features.js'
import { toFeatureRow } from '../../src/stages/features/to-feature-row.js'
import { cardFraudFeatures } from '../../topology/features.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
/** Every aggregation, key, filter and a delay, on short spans so random streams cross their edges often. */
const EXTRA: readonly FeatureDefinition[] = [
  { kind: 'derived', name: 'hour', field: 'hour_of_day', description: '' },
  // Parameterised derived features; the streams start at 21:00 and cross midnight.
  { kind: 'derived', name: 'late_evening', field: 'hour_in', from: 21, to: 22, description: '' },
  { kind: 'derived', name: 'small_hours', field: 'hour_in', from: 23, to: 1, description: '' },
  { kind: 'derived', name: 'amount_50_plus', field: 'amount_at_least', value: 50, description: '' },
  { kind: 'derived', name: 'risky_mcc', field: 'value_in', of: 'mcc', values: ['5999', '9999'], description: '' },
  { kind: 'window', name: 'min_10m', key: 'card', aggregation: 'min', spanMs: 10 * MINUTE, description: '' },
  { kind: 'window', name: 'mean_10m', key: 'card', aggregation: 'mean', spanMs: 10 * MINUTE, description: '' },
  { kind: 'window', name: 'stddev_30m', key: 'card', aggregation: 'stddev', spanMs: 30 * MINUTE, description: '' },
  // The z-score's reference amount: the transaction's when it passes the filter, else the newest event's.
  {
    kind: 'window',
    name: 'cnp_zscore_30m',
    key: 'card',
    filter: 'card_not_present',
    aggregation: 'zscore',
    spanMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'night_sum_30m',
    key: 'card',
    filter: 'night',
    aggregation: 'sum',
    spanMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'terminal_max_30m',
    key: 'card+terminal',
    aggregation: 'max',
    spanMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'country_last_30m',
    key: 'card+country',
    aggregation: 'seconds_since_last',
    spanMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'delayed_zscore',
    key: 'card',
    aggregation: 'zscore',
    spanMs: 20 * MINUTE,
    delayMs: 10 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'delayed_abroad_count',
    key: 'card',
    filter: 'abroad',
    aggregation: 'count',
    spanMs: 20 * MINUTE,
    delayMs: 5 * MINUTE,
    description: '',
  },
  // A count under a key and a filter: both conditions, as 0 or 1, must hold.
  {
    kind: 'window',
    name: 'terminal_cnp_count_30m',
    key: 'card+terminal',
    filter: 'card_not_present',
    aggregation: 'count',
    spanMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'merchants_10m',
    key: 'card',
    aggregation: 'distinct_count',
    field: 'merchant_id',
    spanMs: 10 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'merchants_30m',
    key: 'card',
    aggregation: 'distinct_count',
    field: 'merchant_id',
    spanMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'ecom_devices_30m',
    key: 'card',
    filter: 'card_not_present',
    aggregation: 'distinct_count',
    field: 'device_id',
    spanMs: 30 * MINUTE,
    description: '',
  },
  // Count-only and further back than every other window: events past 30 minutes keep only their time for these.
  {
    kind: 'window',
    name: 'delayed_count',
    key: 'card',
    aggregation: 'count',
    spanMs: 30 * MINUTE,
    delayMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'delayed_since_last',
    key: 'card',
    aggregation: 'seconds_since_last',
    spanMs: 20 * MINUTE,
    delayMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'delayed_countries',
    key: 'card+terminal',
    aggregation: 'distinct_count',
    field: 'country',
    spanMs: 20 * MINUTE,
    delayMs: 5 * MINUTE,
    description: '',
  },
  // Coded fields count by stamps, over two spans of one group (a span's count is taken when the pass leaves it).
  {
    kind: 'window',
    name: 'mccs_10m',
    key: 'card',
    aggregation: 'distinct_count',
    field: 'mcc',
    spanMs: 10 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'mccs_30m',
    key: 'card',
    aggregation: 'distinct_count',
    field: 'mcc',
    spanMs: 30 * MINUTE,
    description: '',
  },
  {
    kind: 'window',
    name: 'abroad_channels_30m',
    key: 'card',
    filter: 'abroad',
    aggregation: 'distinct_count',
    field: 'channel',
    spanMs: 30 * MINUTE,
    description: '',
  },
]

/**
 * A step of a stream whose times move in `unit`s: small steps back and forth (out of order, late beyond five units),
 * whole units (window edges, equal times), and now and then a day or a week ahead, so spans of hours to weeks, the
 * delayed windows and expiry are crossed with history on both sides.
 */
function stepArb(unit: number) {
  return fc.record({
    card: fc.constantFrom('a', 'b', 'c'),
    dtMs: fc.oneof(
      { arbitrary: fc.integer({ min: -8 * unit, max: 6 * unit }), weight: 24 },
      { arbitrary: fc.constantFrom(0, unit, 5 * unit, 10 * unit, -5 * unit), weight: 16 },
      { arbitrary: fc.constantFrom(24 * unit, 7 * 24 * unit - unit, 7 * 24 * unit), weight: 1 },
    ),
    amount: fc.oneof(fc.constant(0), fc.constant(50), fc.double({ min: 0, max: 5_000, noNaN: true })),
    terminal: fc.constantFrom('t1', 't2'),
    country: fc.constantFrom('FR', 'DE'),
    mcc: fc.constantFrom('5411', '5999', '0001', '9999'),
    channel: fc.constantFrom('pos', 'ecom'),
    merchant: fc.constantFrom('m1', 'm2', 'm3'),
    device: fc.option(fc.constantFrom('d1', 'd2'), { nil: undefined }),
    // Between records: now and then a slice of the idle sweep (it drops expired cards whenever it gets to them), or a
    // snapshot restored through msgpack (a restart).
    between: fc.constantFrom(
      'nothing',
      'nothing',
      'nothing',
      'nothing',
      'nothing',
      'nothing',
      'nothing',
      'sweep',
      'sweep',
      'restore',
    ),
  })
}

type Step = ReturnType<typeof stepArb> extends fc.Arbitrary<infer T> ? T : never

function transaction(i: number, step: Step, eventTimeMs: number): Transaction {
  return {
    transaction_id: `tx${i}`,
    card_id: step.card,
    customer_id: 'c',
    merchant_id: `${step.merchant}-${step.terminal}`,
    terminal_id: step.terminal,
    amount: step.amount,
    currency: 'EUR',
    mcc: step.mcc,
    country: step.country,
    card_country: 'FR',
    channel: step.channel,
    event_time: eventTimeMs,
    eventTimeMs,
    ...(step.device ? { device_id: step.device } : {}),
  }
}

/** The default set's spans are hours to weeks; the other set's, minutes. */
for (const [name, features, unit] of [
  ['the default feature set', cardFraudFeatures, HOUR],
  ['every aggregation, key, filter and delay', EXTRA, MINUTE],
] as const) {
  test(`${name}: incremental windows equal the brute-force oracle for every event of streams with out-of-order, late, equal-time and edge events, idle sweeps and restores`, () => {
    const lateness = 5 * unit
    const options = {
      features,
      maxRecordBytes: 65_536,
      dedupeHorizonMs: 86_400_000,
      dedupeMaxEntries: 1_000,
      allowedLatenessMs: lateness,
    }
    const { columns, layout } = toFeatureRow(features)
    fc.assert(
      fc.property(fc.array(stepArb(unit), { minLength: 10, maxLength: 150, size: 'max' }), (steps) => {
        let state = new PartitionState(options)
        const added: Transaction[] = []
        let clock = Date.UTC(2026, 0, 3, 21, 0)
        let maxSeen = -Infinity
        steps.forEach((step, i) => {
          clock += step.dtMs
          const tx = transaction(i, step, clock)
          const watermarkMs = maxSeen - lateness
          // A late event is scored with the windows as they are, minus what the contract calls expired.
          const expected = referenceFeatureRow(features, added, tx, watermarkMs)
          // The row before its float32 rounding, by the function observe runs, on the same state.
          const exact = new Float64Array(features.length)
          columns(state.windows, tx, layout.fill(tx, new Float64Array(layout.valuesPerEvent)), exact)
          const { row, late } = state.observe(tx)
          assert.equal(late, tx.eventTimeMs < watermarkMs)
          expected.forEach((want, j) => {
            // Lookup columns are filled from tables outside the partition: lookups.property.test.ts covers them.
            if (features[j]!.kind === 'lookup') return
            const got = exact[j]!
            assert.ok(
              Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)),
              `${late ? 'late ' : ''}${features[j]!.name}: ${got} vs ${want}`,
            )
            assert.equal(row[j], Math.fround(got), `${features[j]!.name}: the row holds the value rounded to float32`)
          })
          if (!late) {
            added.push(tx)
            maxSeen = Math.max(maxSeen, tx.eventTimeMs)
          }
          if (step.between === 'sweep') state.windows.evictIdle(2)
          else if (step.between === 'restore')
            state = new PartitionState(options, unpack(pack(state.toSnapshot(i + 1))) as PartitionSnapshot)
        })
      }),
      { numRuns: 200 },
    )
  })
}
