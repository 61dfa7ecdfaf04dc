import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Transaction } from '../../src/core/transaction-v1.js'
import { PartitionState } from '../../src/runtime/partition-state.js'
import type { FeatureDefinition } from '../../src/stages/features/feature-definition.js'
import { referenceFeatureRow } from '../../src/stages/features/reference-features.js'
import { cardFraudFeatures } from '../../topology/features.js'

const MINUTE = 60_000
const LATENESS = 5 * MINUTE
/** Every aggregation, key, filter and a delay, on short spans so random streams cross their edges often. */
const EXTRA: readonly FeatureDefinition[] = [
  { kind: 'derived', name: 'hour', field: 'hour_of_day', description: '' },
  { kind: 'window', name: 'min_10m', key: 'card', aggregation: 'min', spanMs: 10 * MINUTE, description: '' },
  { kind: 'window', name: 'mean_10m', key: 'card', aggregation: 'mean', spanMs: 10 * MINUTE, description: '' },
  { kind: 'window', name: 'stddev_30m', key: 'card', aggregation: 'stddev', spanMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'night_sum_30m', key: 'card', filter: 'night', aggregation: 'sum', spanMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'terminal_max_30m', key: 'card+terminal', aggregation: 'max', spanMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'country_last_30m', key: 'card+country', aggregation: 'seconds_since_last', spanMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'delayed_zscore', key: 'card', aggregation: 'zscore', spanMs: 20 * MINUTE, delayMs: 10 * MINUTE, description: '' },
  { kind: 'window', name: 'delayed_abroad_count', key: 'card', filter: 'abroad', aggregation: 'count', spanMs: 20 * MINUTE, delayMs: 5 * MINUTE, description: '' },
  // A count under a key and a filter: both conditions, as 0 or 1, must hold.
  { kind: 'window', name: 'terminal_cnp_count_30m', key: 'card+terminal', filter: 'card_not_present', aggregation: 'count', spanMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'merchants_10m', key: 'card', aggregation: 'distinct_count', field: 'merchant_id', spanMs: 10 * MINUTE, description: '' },
  { kind: 'window', name: 'merchants_30m', key: 'card', aggregation: 'distinct_count', field: 'merchant_id', spanMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'ecom_devices_30m', key: 'card', filter: 'card_not_present', aggregation: 'distinct_count', field: 'device_id', spanMs: 30 * MINUTE, description: '' },
  // Count-only and further back than every other window: events past 30 minutes keep only their time for these.
  { kind: 'window', name: 'delayed_count', key: 'card', aggregation: 'count', spanMs: 30 * MINUTE, delayMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'delayed_since_last', key: 'card', aggregation: 'seconds_since_last', spanMs: 20 * MINUTE, delayMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'delayed_countries', key: 'card+terminal', aggregation: 'distinct_count', field: 'country', spanMs: 20 * MINUTE, delayMs: 5 * MINUTE, description: '' },
  // Coded fields count by stamps, over two spans of one group (a span's count is taken when the pass leaves it).
  { kind: 'window', name: 'mccs_10m', key: 'card', aggregation: 'distinct_count', field: 'mcc', spanMs: 10 * MINUTE, description: '' },
  { kind: 'window', name: 'mccs_30m', key: 'card', aggregation: 'distinct_count', field: 'mcc', spanMs: 30 * MINUTE, description: '' },
  { kind: 'window', name: 'abroad_channels_30m', key: 'card', filter: 'abroad', aggregation: 'distinct_count', field: 'channel', spanMs: 30 * MINUTE, description: '' },
]

const stepArb = fc.record({
  card: fc.constantFrom('a', 'b', 'c'),
  // Whole minutes often: events land exactly on window edges (spans are whole minutes) and on equal times.
  dtMs: fc.oneof({ arbitrary: fc.integer({ min: -8 * MINUTE, max: 6 * MINUTE }), weight: 3 }, { arbitrary: fc.constantFrom(0, MINUTE, 5 * MINUTE, 10 * MINUTE, -5 * MINUTE), weight: 2 }),
  amount: fc.oneof(fc.constant(0), fc.constant(50), fc.double({ min: 0, max: 5_000, noNaN: true })),
  terminal: fc.constantFrom('t1', 't2'),
  country: fc.constantFrom('FR', 'DE'),
  mcc: fc.constantFrom('5411', '5999', '0001', '9999'),
  channel: fc.constantFrom('pos', 'ecom'),
  merchant: fc.constantFrom('m1', 'm2', 'm3'),
  device: fc.option(fc.constantFrom('d1', 'd2'), { nil: undefined }),
})

function transaction(i: number, step: typeof stepArb extends fc.Arbitrary<infer T> ? T : never, eventTimeMs: number): Transaction {
  return {
    transaction_id: `tx${i}`, card_id: step.card, customer_id: 'c', merchant_id: `${step.merchant}-${step.terminal}`, terminal_id: step.terminal, amount: step.amount,
    currency: 'EUR', mcc: step.mcc, country: step.country, card_country: 'FR', channel: step.channel, event_time: eventTimeMs, eventTimeMs,
    ...(step.device ? { device_id: step.device } : {}),
  }
}

for (const [name, features] of [['the default feature set', cardFraudFeatures], ['every aggregation, key, filter and delay', EXTRA]] as const) {
  test(`${name}: incremental windows equal the brute-force oracle for every on-time event of streams with out-of-order, late, equal-time and edge events`, () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 10, maxLength: 150, size: 'max' }), (steps) => {
        const state = new PartitionState({ features, maxRecordBytes: 65_536, dedupeHorizonMs: 86_400_000, dedupeMaxEntries: 1_000, allowedLatenessMs: LATENESS })
        const added: Transaction[] = []
        let clock = Date.UTC(2026, 0, 3, 21, 0)
        let maxSeen = -Infinity
        steps.forEach((step, i) => {
          clock += step.dtMs
          const tx = transaction(i, step, clock)
          const expected = referenceFeatureRow(features, added, tx)
          const { row, late } = state.observe(tx)
          assert.equal(late, tx.eventTimeMs < maxSeen - LATENESS)
          // A late event is scored with the state as it is: history older than the trim horizon may be gone.
          if (late) return
          expected.forEach((want, j) => {
            // Lookup columns are filled from tables outside the partition: lookups.property.test.ts covers them.
            if (features[j]!.kind === 'lookup') return
            const got = row[j]!
            const tolerance = 1e-6 * Math.max(1, Math.abs(want))
            assert.ok(Math.abs(got - Math.fround(want)) <= tolerance, `${features[j]!.name}: ${got} vs ${want}`)
          })
          added.push(tx)
          maxSeen = Math.max(maxSeen, tx.eventTimeMs)
        })
      }),
      { numRuns: 200 },
    )
  })
}
