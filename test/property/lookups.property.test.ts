import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Label } from '../../src/core/label-v1.js'
import type { Transaction } from '../../src/core/transaction-v1.js'
import { decodedTransaction } from '../helpers/transactions.js'
import type { FeatureDefinition } from '../../src/stages/features/feature-definition.js'
import { referenceLookup } from '../../src/stages/features/reference-features.js'
import { LabelRouter } from '../../src/stages/lookups/label-router.js'
import { LookupAggregator } from '../../src/stages/lookups/lookup-aggregator.js'
import { sourceId, transactionFacts, type LookupFact } from '../../src/stages/lookups/lookup-facts.js'
import { fillLookups, lookupPlanOf, requirementOf } from '../../src/stages/lookups/lookup-plan.js'
import { LookupTable } from '../../src/stages/lookups/lookup-table.js'
import { OfflineLookups } from '../../src/stages/lookups/offline-lookups.js'
import { attributesOf, withAttributes } from '../../src/stages/lookups/label-attribution.js'
import { PendingLabels } from '../../src/stages/lookups/pending-labels.js'
import { TransactionIndex } from '../../src/stages/lookups/transaction-index.js'
import type { TransactionAttributes } from '../../src/core/ports.js'

const MINUTE = 60_000
const LATENESS = 5 * MINUTE
const FEATURES: readonly FeatureDefinition[] = [
  {
    kind: 'lookup',
    name: 'terminal_count',
    key: 'terminal',
    aggregation: 'count',
    resolutionMs: 5 * MINUTE,
    spanMs: 20 * MINUTE,
    delayMs: 10 * MINUTE,
    labelLagMs: 10 * MINUTE,
    description: '',
  },
  {
    kind: 'lookup',
    name: 'terminal_fraud_ratio',
    key: 'terminal',
    aggregation: 'fraud_ratio',
    resolutionMs: 5 * MINUTE,
    spanMs: 20 * MINUTE,
    delayMs: 10 * MINUTE,
    labelLagMs: 6 * MINUTE,
    description: '',
  },
  {
    kind: 'lookup',
    name: 'terminal_fraud_count_hourly',
    key: 'terminal',
    aggregation: 'fraud_count',
    resolutionMs: 15 * MINUTE,
    spanMs: 30 * MINUTE,
    delayMs: 15 * MINUTE,
    labelLagMs: 15 * MINUTE,
    description: '',
  },
  {
    kind: 'lookup',
    name: 'merchant_sum',
    key: 'merchant',
    aggregation: 'sum',
    resolutionMs: 15 * MINUTE,
    spanMs: 30 * MINUTE,
    delayMs: 20 * MINUTE,
    labelLagMs: 20 * MINUTE,
    description: '',
  },
  {
    kind: 'lookup',
    name: 'device_fraud_count',
    key: 'device',
    aggregation: 'fraud_count',
    resolutionMs: 5 * MINUTE,
    spanMs: 30 * MINUTE,
    delayMs: 10 * MINUTE,
    labelLagMs: 10 * MINUTE,
    description: '',
  },
  // The amount aggregations and distinct counts, over buckets of two resolutions of one key kind.
  ...(['mean', 'min', 'max', 'stddev', 'zscore', 'amount_over_mean', 'seconds_since_last'] as const).map(
    (aggregation): FeatureDefinition => ({
      kind: 'lookup',
      name: `terminal_${aggregation}`,
      key: 'terminal',
      aggregation,
      resolutionMs: 5 * MINUTE,
      spanMs: 20 * MINUTE,
      delayMs: 10 * MINUTE,
      labelLagMs: 10 * MINUTE,
      description: '',
    }),
  ),
  {
    kind: 'lookup',
    name: 'terminal_stddev_hourly',
    key: 'terminal',
    aggregation: 'stddev',
    resolutionMs: 15 * MINUTE,
    spanMs: 30 * MINUTE,
    delayMs: 15 * MINUTE,
    labelLagMs: 15 * MINUTE,
    description: '',
  },
  {
    kind: 'lookup',
    name: 'terminal_cards',
    key: 'terminal',
    aggregation: 'distinct_count',
    field: 'card_id',
    resolutionMs: 5 * MINUTE,
    spanMs: 20 * MINUTE,
    delayMs: 10 * MINUTE,
    labelLagMs: 10 * MINUTE,
    description: '',
  },
  // device_id is optional: transactions without one are not counted.
  {
    kind: 'lookup',
    name: 'merchant_devices',
    key: 'merchant',
    aggregation: 'distinct_count',
    field: 'device_id',
    resolutionMs: 15 * MINUTE,
    spanMs: 30 * MINUTE,
    delayMs: 20 * MINUTE,
    labelLagMs: 20 * MINUTE,
    description: '',
  },
  {
    kind: 'lookup',
    name: 'device_zscore',
    key: 'device',
    aggregation: 'zscore',
    resolutionMs: 5 * MINUTE,
    spanMs: 30 * MINUTE,
    delayMs: 10 * MINUTE,
    labelLagMs: 10 * MINUTE,
    description: '',
  },
]
const plan = lookupPlanOf(FEATURES, LATENESS)
const AGGREGATOR_PARTITIONS = 2
const START = Date.UTC(2026, 0, 3, 21, 0)

const txStepArb = fc.record({
  dtMs: fc.integer({ min: -8 * MINUTE, max: 6 * MINUTE }),
  terminal: fc.constantFrom('t1', 't2', 't3'),
  card: fc.constantFrom('c1', 'c2', 'c3', 'c4'),
  merchant: fc.constantFrom('m1', 'm2'),
  // device_id is optional: a transaction without one is in no device window.
  device: fc.option(fc.constantFrom('d1', 'd2'), { nil: undefined }),
  amount: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 5_000, noNaN: true })),
})
const labelArb = fc.record({
  of: fc.nat(),
  reportAfterMs: fc.integer({ min: 0, max: 40 * MINUTE }),
  jitterMs: fc.integer({ min: -7 * MINUTE, max: 0 }),
  isFraud: fc.boolean(),
  // A bank's label: the transaction id alone, attributed from the transactions scored (pending until then).
  stripped: fc.boolean(),
})

function transactions(
  source: number,
  steps: readonly {
    dtMs: number
    terminal: string
    card: string
    merchant: string
    device: string | undefined
    amount: number
  }[],
): Transaction[] {
  let clock = START
  return steps.map((step, i) => {
    clock += step.dtMs
    return decodedTransaction(clock, {
      transaction_id: `s${source}-${i}`,
      card_id: step.card,
      customer_id: 'c',
      merchant_id: step.merchant,
      terminal_id: step.terminal,
      amount: step.amount,
      ...(step.device ? { device_id: step.device } : {}),
    })
  })
}

const partitionOf = (key: string) => [...key].reduce((h, c) => h + c.charCodeAt(0), 0) % AGGREGATOR_PARTITIONS

interface ScoringSource {
  readonly id: string
  readonly txs: Transaction[]
  next: number
  maxSeenMs: number
  /** In offset order, each with the time its lookups are read at: its own, or a late one's watermark (as the job does). */
  readonly waiting: { tx: Transaction; atMs: number }[]
  readonly emitted: LookupFact[]
}

test('lookups through repartition, aggregators, markers and a table equal the oracle, whatever the interleaving, re-emissions and evictions, for late transactions too (read at their watermark)', () => {
  fc.assert(
    fc.property(
      fc.array(txStepArb, { minLength: 5, maxLength: 80 }),
      fc.array(txStepArb, { minLength: 0, maxLength: 80 }),
      fc.array(labelArb, { maxLength: 60 }),
      fc.array(fc.nat(), { minLength: 50, maxLength: 3_000 }),
      (stepsA, stepsB, labelSpecs, schedule) => {
        const sources: ScoringSource[] = [stepsA, stepsB].map((steps, i) => ({
          id: sourceId('tx', i),
          txs: transactions(i, steps),
          next: 0,
          maxSeenMs: -Infinity,
          waiting: [],
          emitted: [],
        }))
        const all = sources.flatMap((s) => s.txs)
        // The one case the protocol leaves to lookups.maxWaitMs (see PendingLabels), which this harness does not
        // model: a label carrying the transaction id alone, of a transaction its partition read late, reported before
        // the label cutoff of a transaction read before it. That one waits for the label, the label for its own
        // transaction's score, which comes after. Such labels carry their transaction's fields here; for an on-time
        // transaction no cutoff before it reaches its time (every labelLagMs exceeds the lateness).
        const cutoffBefore = new Map<string, number>()
        for (const source of sources) {
          let maxMs = -Infinity
          let cutoffMs = -Infinity
          for (const tx of source.txs) {
            const atMs = Math.max(tx.eventTimeMs, maxMs - LATENESS)
            cutoffMs = Math.max(cutoffMs, requirementOf(plan, atMs).labelsMs)
            cutoffBefore.set(tx.transaction_id, cutoffMs)
            maxMs = Math.max(maxMs, tx.eventTimeMs)
          }
        }
        const labels: Label[] = labelSpecs
          .map((spec, i) => {
            const tx = all[spec.of % all.length]!
            const reportedAtMs = tx.eventTimeMs + spec.reportAfterMs
            const required = {
              transaction_id: tx.transaction_id,
              is_fraud: spec.isFraud,
              source: 'analyst' as const,
              reported_at: reportedAtMs,
              reportedAtMs,
              order: reportedAtMs + spec.jitterMs + i * 1e-6,
            }
            return spec.stripped && reportedAtMs >= cutoffBefore.get(tx.transaction_id)!
              ? { ...required, transactionTimeMs: undefined }
              : {
                  ...required,
                  transactionTimeMs: tx.eventTimeMs,
                  terminal_id: tx.terminal_id,
                  merchant_id: tx.merchant_id,
                  device_id: tx.device_id,
                }
          })
          .sort((a, b) => a.order - b.order)
        const router = new LabelRouter(plan, sourceId('labels', 0), LATENESS)
        const pending = new PendingLabels()
        let nextLabel = 0
        const expectedSources = [...sources.map((s) => s.id), sourceId('labels', 0)]
        const queues: LookupFact[][] = Array.from({ length: AGGREGATOR_PARTITIONS }, () => [])
        const aggregators = queues.map(() => new LookupAggregator(plan, expectedSources))
        const table = new LookupTable(AGGREGATOR_PARTITIONS)
        const onTime: Transaction[] = []
        const scoredAt = new Map<string, { tx: Transaction; atMs: number }>()
        const routedLabels: Label[] = []
        const got = new Map<string, Float32Array>()
        let publishes = 0
        const send = (fact: LookupFact) =>
          fact.kind === 'marker' ? queues.forEach((q) => q.push(fact)) : queues[partitionOf(fact.key)]!.push(fact)
        const score = (source: ScoringSource) => {
          while (source.waiting.length > 0 && table.covers(requirementOf(plan, source.waiting[0]!.atMs))) {
            const { tx, atMs } = source.waiting.shift()!
            // No transaction is scored while a label it may need (reported before its cutoff) waits to be attributed.
            assert.ok(
              requirementOf(plan, atMs).labelsMs <= pending.oldestReportedMs,
              `${tx.transaction_id} scored before a label reported at ${pending.oldestReportedMs} was attributed`,
            )
            const row = new Float32Array(FEATURES.length)
            fillLookups(plan, row, tx, atMs, (key) => table.get(key), 0, table.summaries)
            // The table's window summaries (what the stage reads) stay in step with its records.
            const recomputed = new Float32Array(FEATURES.length)
            fillLookups(plan, recomputed, tx, atMs, (key) => table.get(key))
            assert.deepEqual(row, recomputed)
            got.set(tx.transaction_id, row)
          }
        }
        const actions = [
          // A scoring source reads its next transaction: facts out, then it waits for the table.
          (pick: number) => {
            const source = sources[pick % sources.length]!
            const tx = source.txs[source.next]
            if (!tx) return
            const offset = source.next++
            const atMs = Math.max(tx.eventTimeMs, source.maxSeenMs - LATENESS)
            scoredAt.set(tx.transaction_id, { tx, atMs })
            source.waiting.push({ tx, atMs })
            // A late one feeds no table.
            if (tx.eventTimeMs < source.maxSeenMs - LATENESS) return
            source.maxSeenMs = Math.max(source.maxSeenMs, tx.eventTimeMs)
            onTime.push(tx)
            const facts = transactionFacts(plan, tx, source.id, offset)
            facts.forEach(send)
            source.emitted.push(...facts)
          },
          // A source restarted and sends its recent facts again.
          (pick: number) => {
            const source = sources[pick % sources.length]!
            source.emitted.slice(-(pick % 6)).forEach(send)
          },
          (pick: number) => {
            const source = sources[pick % sources.length]!
            const oldestWaiting = source.waiting.reduce((min, { atMs }) => Math.min(min, atMs), Infinity)
            send({
              kind: 'marker',
              source: source.id,
              watermarkMs: Math.min(source.maxSeenMs - LATENESS, oldestWaiting),
              idle: source.next >= source.txs.length && source.waiting.length === 0,
              throughOffset: source.next - 1,
            })
          },
          () => {
            const label = labels[nextLabel]
            if (!label) return
            const offset = nextLabel++
            const routed = router.route(label, offset)
            if (routed.kind === 'facts') {
              routedLabels.push(label)
              routed.facts.forEach(send)
            } else if (routed.kind === 'attribute') pending.add(offset, label, 0)
          },
          // The labels partition's marker: held back by the labels waiting for their transaction.
          () =>
            send({
              kind: 'marker',
              source: sourceId('labels', 0),
              ...pending.marker(router.watermarkMs, nextLabel, nextLabel >= labels.length),
            }),
          (pick: number) => {
            const fact = queues[pick % AGGREGATOR_PARTITIONS]!.shift()
            if (fact) aggregators[pick % AGGREGATOR_PARTITIONS]!.apply(fact)
          },
          // Publish: changed keys, then progress, in that order (the aggregates topic's order).
          (pick: number) => {
            const p = pick % AGGREGATOR_PARTITIONS
            const aggregator = aggregators[p]!
            if (pick % 3 === 0) aggregator.evict()
            // Every other publish holds back changed buckets (all of them, or those from some time below the
            // aggregator's completeness on, as the lookup task does): its progress must stop short of them.
            const kind = publishes++ % 5
            const holdFromMs = kind === 0 ? Infinity : kind === 1 ? aggregator.appliedBelowMs - 10 * MINUTE : -Infinity
            for (const entry of aggregator.takeChanges(holdFromMs)) table.put(p, structuredClone(entry))
            table.setProgress(p, aggregator.progress)
          },
          (pick: number) => score(sources[pick % sources.length]!),
          // An attribution round (one chance in four: the scoring runs ahead of it meanwhile): the transactions
          // scored so far are in `scores`, the others not yet.
          (pick: number) => {
            if (pick % 4 !== 0) return
            const found = new Map<string, TransactionAttributes>()
            for (const id of pending.ids()) {
              const scored = got.has(id) ? scoredAt.get(id) : undefined
              if (scored) found.set(id, attributesOf(scored.tx))
            }
            for (const { offset, label, attributes } of pending.settle(found, 0, Infinity).attributed) {
              routedLabels.push({ ...label, ...withAttributes(label, attributes) } as Label)
              router.attribute(label, offset, attributes).forEach(send)
            }
          },
        ]
        for (const choice of schedule) actions[choice % actions.length]!(Math.floor(choice / actions.length))
        // Run everything out in a fixed order, until every transaction is read and scored and every label routed or
        // attributed: stopping once those read so far are scored would leave the rest unread, their labels waiting.
        // The queues never empty (each round sends markers) and what is left in them changes no row scored.
        const drained = () =>
          sources.every((s) => s.next >= s.txs.length && s.waiting.length === 0) &&
          nextLabel >= labels.length &&
          pending.size === 0
        for (let round = 0; round < 10_000 && !drained(); round++)
          for (const a of [0, 0, 3, 8, 5, 5, 2, 4, 6, 7]) for (let p = 0; p < 4; p++) actions[a]!(p)
        assert.ok(
          drained(),
          `run out: ${sources.map((s) => `${s.id} read ${s.next}/${s.txs.length}, waiting ${s.waiting.length}`).join('; ')}; labels routed ${nextLabel}/${labels.length}, pending ${pending.size}`,
        )
        assert.equal(got.size, scoredAt.size, 'every transaction was scored, on time or late')
        // Offline, the labels go in after every transaction: their transactions are found in an index of their ids.
        const stripped = new Set(labels.filter((l) => l.transactionTimeMs === undefined).map((l) => l.transaction_id))
        const offline = new OfflineLookups(plan, LATENESS, { index: new TransactionIndex({ only: stripped }) })
        const onTimeIds = new Set(onTime.map((tx) => tx.transaction_id))
        for (const { tx } of scoredAt.values()) offline.addTransaction(tx, !onTimeIds.has(tx.transaction_id))
        for (const label of labels) offline.addLabel(label)
        assert.equal(offline.unattributedLabels, 0, 'every stripped label is attributed offline')
        for (const { tx, atMs } of scoredAt.values()) {
          const row = got.get(tx.transaction_id)!
          const offlineRow = new Float32Array(FEATURES.length)
          offline.fill(offlineRow, tx, atMs)
          FEATURES.forEach((feature, j) => {
            // A late transaction's lookups: those of its watermark, whatever the aggregators had evicted by then.
            const want = referenceLookup(feature as never, onTime, routedLabels, { ...tx, eventTimeMs: atMs })
            // The row is float32: the stream's value (within 1e-9 of the oracle's) rounded to it, or both overflow it
            // (an amount over the mean of amounts near 1e-300).
            assert.ok(
              row[j] === Math.fround(want) ||
                Math.abs(row[j]! - want) <= Math.abs(want) * 2 ** -24 + 1e-9 * Math.max(1, Math.abs(want)),
              `${feature.name} of ${tx.transaction_id}: stream ${row[j]} vs oracle ${want}`,
            )
            assert.equal(offlineRow[j], row[j], `${feature.name} of ${tx.transaction_id}: offline equals stream`)
          })
        }
      },
    ),
    {
      numRuns: 300,
      // A schedule that reads no transaction (it only re-sends): the run-out must still read and score them all and
      // attribute the stripped label, which offline finds its transaction for.
      examples: [
        [
          Array.from({ length: 5 }, () => ({
            dtMs: 0,
            terminal: 't1' as const,
            card: 'c1' as const,
            merchant: 'm1' as const,
            device: undefined,
            amount: 0,
          })),
          [],
          [{ of: 0, reportAfterMs: 0, jitterMs: 0, isFraud: false, stripped: true }],
          Array.from({ length: 50 }, () => 1),
        ],
      ],
    },
  )
})
