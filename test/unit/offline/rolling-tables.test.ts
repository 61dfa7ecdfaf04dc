import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Transaction } from '../../../src/core/transaction-v1.js'
import { decodedTransaction } from '../../helpers/transactions.js'
import { labelFactEntry, RollingTables } from '../../../src/offline/rolling-tables.js'
import type { FeatureDefinition, LookupAggregation } from '../../../src/stages/features/feature-definition.js'
import { LookupAggregator } from '../../../src/stages/lookups/lookup-aggregator.js'
import { labelFacts, sourceId, transactionFacts } from '../../../src/stages/lookups/lookup-facts.js'
import { fillLookups, lookupPlanOf, requirementOf } from '../../../src/stages/lookups/lookup-plan.js'

const MINUTE = 60_000
const LATENESS = MINUTE
const START = Date.UTC(2026, 0, 5)
const lookup = (
  name: string,
  key: 'terminal' | 'merchant' | 'device' | 'customer',
  aggregation: LookupAggregation,
  window: { resolutionMs: number; spanMs: number; delayMs: number; labelLagMs: number },
  field?: 'card_id' | 'device_id',
): FeatureDefinition => ({
  kind: 'lookup',
  name,
  key,
  aggregation,
  ...window,
  ...(field ? { field } : {}),
  description: '',
})
const SHORT = { resolutionMs: 5 * MINUTE, spanMs: 20 * MINUTE, delayMs: 10 * MINUTE, labelLagMs: 10 * MINUTE }
const LONG = { resolutionMs: 15 * MINUTE, spanMs: 60 * MINUTE, delayMs: 15 * MINUTE, labelLagMs: 20 * MINUTE }
/**
 * Every aggregation, two windows of one key kind (one a multiple of the other's resolution), four key kinds: the
 * customer's features read only counts, so its buckets keep only counts (KeyHistory's COUNT_STRIDE).
 */
const FEATURES: readonly FeatureDefinition[] = [
  ...(
    [
      'count',
      'sum',
      'mean',
      'min',
      'max',
      'stddev',
      'zscore',
      'amount_over_mean',
      'seconds_since_last',
      'fraud_count',
      'fraud_ratio',
    ] as const
  ).flatMap((aggregation) => [
    lookup(`terminal_${aggregation}`, 'terminal', aggregation, SHORT),
    lookup(`terminal_${aggregation}_long`, 'terminal', aggregation, LONG),
  ]),
  lookup('terminal_cards', 'terminal', 'distinct_count', SHORT, 'card_id'),
  lookup('terminal_devices_long', 'terminal', 'distinct_count', LONG, 'device_id'),
  lookup('merchant_fraud_ratio', 'merchant', 'fraud_ratio', LONG),
  lookup('merchant_sum', 'merchant', 'sum', LONG),
  lookup('device_zscore', 'device', 'zscore', SHORT),
  lookup('customer_count', 'customer', 'count', SHORT),
  lookup('customer_fraud_ratio_long', 'customer', 'fraud_ratio', LONG),
  lookup('customer_fraud_count', 'customer', 'fraud_count', SHORT),
  lookup('customer_cards_long', 'customer', 'distinct_count', LONG, 'card_id'),
]
const plan = lookupPlanOf(FEATURES, LATENESS)
const TX = sourceId('tx', 0)
const LABELS = sourceId('labels', 0)

const idsArb = fc.record({
  terminal: fc.constantFrom('t1', 't2', 't3'),
  merchant: fc.constantFrom('m1', 'm2'),
  card: fc.constantFrom('c1', 'c2', 'c3'),
  customer: fc.constantFrom('u1', 'u2'),
  device: fc.option(fc.constantFrom('d1', 'd2'), { nil: undefined }),
})
/** Whole minutes: times then often fall on bucket edges and label cutoffs, and facts share buckets. */
const minutes = (min: number, max: number) => fc.integer({ min, max }).map((m) => m * MINUTE)
const stepArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('tx' as const),
      dtMs: minutes(-20, 8),
      ids: idsArb,
      amount: fc.double({ min: 0, max: 5_000, noNaN: true }),
      // Its row read at once, as an offline pass mostly reads it.
      readNow: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('label' as const),
      backMs: minutes(0, 90),
      reportAfterMs: minutes(0, 90),
      id: fc.constantFrom('x1', 'x2', 'x3', 'x4'),
      isFraud: fc.boolean(),
      ids: idsArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      backMs: minutes(0, 30),
      ids: idsArb,
      amount: fc.double({ min: 0, max: 5_000, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('evict' as const), backMs: minutes(0, 180) }) },
)

type Ids = { terminal: string; merchant: string; card: string; customer: string; device: string | undefined }

function transaction(ids: Ids, eventTimeMs: number, amount: number): Transaction {
  return decodedTransaction(eventTimeMs, {
    card_id: ids.card,
    customer_id: ids.customer,
    merchant_id: ids.merchant,
    terminal_id: ids.terminal,
    amount,
    ...(ids.device ? { device_id: ids.device } : {}),
  })
}

test('offline tables read what the live aggregator holds, for every aggregation, through out-of-order facts, labels and evictions', () => {
  fc.assert(
    fc.property(
      fc.array(stepArb, { minLength: 40, maxLength: 200, size: 'max' }),
      fc.boolean(),
      (steps, wholeAmounts) => {
        // Buckets made out of time order are summed in another order than the aggregator's Map keeps them: with whole
        // amounts every sum is exact, so the rows are equal whatever the order; with any amounts, facts come in order.
        const amountOf = (amount: number) => (wholeAmounts ? Math.round(amount) : amount)
        const aggregator = new LookupAggregator(plan, [TX], { tracksChanges: false })
        const tables = new RollingTables(plan)
        let clockMs = START
        /** No fact lands below a window end read, as RollingLookups guarantees. */
        let readBelowMs = -Infinity
        /** No read below the last eviction's watermark. */
        let evictedAtMs = -Infinity
        let offset = 0
        const read = (tx: Transaction, atMs: number) => {
          const live = new Float32Array(FEATURES.length)
          fillLookups(plan, live, tx, atMs, (key) => aggregator.keys.get(key))
          const offline = new Float32Array(FEATURES.length)
          tables.fill(offline, tx, atMs)
          assert.deepEqual(offline, live, `read at ${atMs - START}`)
          readBelowMs = Math.max(readBelowMs, requirementOf(plan, atMs).txMs)
        }
        for (const step of steps) {
          if (step.kind === 'tx') {
            // A step back is a fact behind the others (with whole amounts only), the clock staying where it is.
            clockMs += Math.max(0, step.dtMs)
            const timeMs = Math.max(readBelowMs, wholeAmounts ? clockMs + Math.min(0, step.dtMs) : clockMs)
            const tx = transaction(step.ids, timeMs, amountOf(step.amount))
            for (const fact of transactionFacts(plan, tx, TX, offset++)) aggregator.apply(fact)
            tables.addTransaction(tx)
            if (step.readNow) read(tx, Math.max(evictedAtMs, timeMs))
          } else if (step.kind === 'label') {
            const transactionTimeMs = Math.max(readBelowMs, clockMs - step.backMs)
            const facts = labelFacts(
              plan,
              {
                transaction_id: step.id,
                is_fraud: step.isFraud,
                reportedAtMs: transactionTimeMs + step.reportAfterMs,
                transactionTimeMs,
                terminal_id: step.ids.terminal,
                merchant_id: step.ids.merchant,
                customer_id: step.ids.customer,
                device_id: step.ids.device,
              },
              LABELS,
              offset++,
            )
            for (const fact of facts) {
              aggregator.apply(fact)
              if (fact.kind === 'label') tables.addLabel(labelFactEntry(tables, fact))
            }
          } else if (step.kind === 'read') {
            const atMs = Math.max(evictedAtMs, clockMs - step.backMs)
            read(transaction(step.ids, clockMs, amountOf(step.amount)), atMs)
          } else {
            const watermarkMs = Math.max(evictedAtMs, clockMs - step.backMs)
            evictedAtMs = watermarkMs
            aggregator.apply({ kind: 'marker', source: TX, watermarkMs, idle: false, throughOffset: -1 })
            aggregator.evict()
            tables.evict(watermarkMs)
            assert.equal(tables.keys, aggregator.keys.size, 'the same keys are left')
          }
        }
      },
    ),
    { numRuns: 300 },
  )
})

test('a key left with nothing after an eviction is dropped, and its next fact starts it afresh', () => {
  const tables = new RollingTables(plan)
  const ids = { terminal: 't1', merchant: 'm1', card: 'c1', customer: 'u1', device: undefined }
  tables.addTransaction(transaction(ids, START, 10))
  assert.equal(tables.keys, 3)
  tables.evict(START + 5 * 60 * MINUTE)
  assert.equal(tables.keys, 0)
  // Below the last eviction's reach: refused, as the aggregator calls it expired.
  tables.addTransaction(transaction(ids, START, 10))
  assert.equal(tables.keys, 0)
  tables.addTransaction(transaction(ids, START + 5 * 60 * MINUTE, 10))
  assert.equal(tables.keys, 3)
  const row = new Float32Array(FEATURES.length)
  tables.fill(row, transaction(ids, START + 6 * 60 * MINUTE, 20), START + 6 * 60 * MINUTE)
  assert.equal(row[FEATURES.findIndex((f) => f.name === 'terminal_count_long')], 1)
  assert.equal(row[FEATURES.findIndex((f) => f.name === 'customer_cards_long')], 1)
})
