import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Label } from '../../../../src/core/label-v1.js'
import type { Transaction } from '../../../../src/core/transaction-v1.js'
import { decodedTransaction } from '../../../helpers/transactions.js'
import { attributesOf } from '../../../../src/stages/lookups/label-attribution.js'
import { LabelRouter } from '../../../../src/stages/lookups/label-router.js'
import { sourceId } from '../../../../src/stages/lookups/lookup-facts.js'
import { lookupPlanOf } from '../../../../src/stages/lookups/lookup-plan.js'
import { OfflineLookups } from '../../../../src/stages/lookups/offline-lookups.js'
import { PendingLabels } from '../../../../src/stages/lookups/pending-labels.js'
import { TransactionIndex } from '../../../../src/stages/lookups/transaction-index.js'
import { cardFraudFeatures } from '../../../../topology/features.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const LATENESS = 60_000
const T0 = Date.UTC(2026, 0, 10, 12)
const plan = lookupPlanOf(cardFraudFeatures, LATENESS)
const names = cardFraudFeatures.map((f) => f.name)

function transaction(id: string, eventTimeMs: number, terminal = 't1'): Transaction {
  return decodedTransaction(eventTimeMs, { transaction_id: id, terminal_id: terminal })
}

/** A bank's label: the required fields of Label v1 and nothing else. */
function bankLabel(transactionId: string, reportedAtMs: number, isFraud = true): Label {
  return {
    transaction_id: transactionId,
    is_fraud: isFraud,
    source: 'chargeback',
    reported_at: reportedAtMs,
    reportedAtMs,
    transactionTimeMs: undefined,
  }
}

function lookupsOf(lookups: OfflineLookups, at: Transaction): Record<string, number> {
  const row = new Float32Array(names.length)
  lookups.fill(row, at, at.eventTimeMs)
  return Object.fromEntries(
    ['terminal_tx_count_7d', 'terminal_fraud_count_7d', 'terminal_fraud_ratio_7d', 'merchant_fraud_ratio_7d'].map(
      (n) => [n, row[names.indexOf(n)]!],
    ),
  )
}

test('a label with only the required fields asks to be attributed, and its facts are its transaction’s terminal, merchant and time', () => {
  const router = new LabelRouter(plan, sourceId('labels', 0), LATENESS)
  const tx = transaction('tx1', T0)
  const label = bankLabel('tx1', T0 + 2 * DAY)
  assert.deepEqual(router.route(label, 5), { kind: 'attribute' })
  const facts = router.attribute(label, 5, attributesOf(tx))
  assert.deepEqual(
    facts.map((f) => (f.kind === 'label' ? [f.key, f.eventTimeMs, f.reportedAtMs, f.isFraud, f.offset] : [])),
    [
      ['terminal:t1', T0, T0 + 2 * DAY, true, 5],
      ['merchant:m1', T0, T0 + 2 * DAY, true, 5],
    ],
  )
  // Not found: what its own fields allow, here nothing.
  assert.deepEqual(router.attribute(label, 5, undefined), [])
  // A late one is late before anything else, as a full label is.
  router.route(bankLabel('tx9', T0 + 10 * DAY), 6)
  assert.deepEqual(router.route(label, 7), { kind: 'late' })
})

test('a waiting label is attributed once its transaction is found, or expires after the timeout; the marker holds back meanwhile', () => {
  const pending = new PendingLabels()
  const found = bankLabel('found-later', T0 + 100)
  const never = bankLabel('never', T0 + 50)
  pending.add(8, found, 0)
  pending.add(10, never, 0)
  assert.deepEqual(pending.ids(), ['found-later', 'never'])
  // Waiting: completeness held at the oldest reported_at, resume before the oldest offset, idle claim qualified.
  assert.deepEqual(pending.marker(T0 + 1_000, 12, true), {
    watermarkMs: T0 + 50,
    idle: true,
    throughOffset: 7,
    heldFromMs: T0 + 50,
    readThroughOffset: 11,
  })
  // First round: neither in the store yet, the timeout not reached.
  let round = pending.settle(new Map(), 500, 1_000)
  assert.deepEqual([round.attributed.length, round.expired.length, pending.size], [0, 0, 2])
  // Second round: one found.
  round = pending.settle(new Map([['found-later', attributesOf(transaction('found-later', T0))]]), 900, 1_000)
  assert.deepEqual(
    round.attributed.map((a) => [a.offset, a.label.transaction_id, a.attributes.terminal_id]),
    [[8, 'found-later', 't1']],
  )
  assert.equal(round.expired.length, 0)
  assert.deepEqual(pending.marker(T0 + 1_000, 12, true).throughOffset, 9)
  // Third round, past the timeout: the other one expires, to be counted and logged by the caller.
  round = pending.settle(new Map(), 1_000, 1_000)
  assert.deepEqual(
    round.expired.map((e) => [e.offset, e.label.transaction_id]),
    [[10, 'never']],
  )
  assert.equal(pending.size, 0)
  assert.deepEqual(pending.marker(T0 + 1_000, 12, true), { watermarkMs: T0 + 1_000, idle: true, throughOffset: 11 })
})

test('bank labels feed the terminal and merchant fraud features as full labels do; one whose transaction was never seen is counted', () => {
  const full = new OfflineLookups(plan, LATENESS)
  const bank = new OfflineLookups(plan, LATENESS)
  const txs = [transaction('a', T0), transaction('b', T0 + HOUR), transaction('c', T0 + 2 * HOUR, 't2')]
  for (const lookups of [full, bank]) for (const tx of txs) lookups.addTransaction(tx, false)
  for (const tx of txs.slice(0, 2)) {
    full.addLabel({
      ...bankLabel(tx.transaction_id, T0 + DAY),
      transaction_time: tx.eventTimeMs,
      transactionTimeMs: tx.eventTimeMs,
      terminal_id: tx.terminal_id,
      merchant_id: tx.merchant_id,
    })
    bank.addLabel(bankLabel(tx.transaction_id, T0 + DAY))
  }
  bank.addLabel(bankLabel('unknown', T0 + DAY))
  const probe = transaction('probe', T0 + 3 * DAY)
  assert.deepEqual(lookupsOf(bank, probe), lookupsOf(full, probe))
  assert.equal(lookupsOf(bank, probe).terminal_fraud_count_7d, 2, 'both bank labels count')
  assert.equal(bank.unattributedLabels, 1)
  assert.deepEqual(bank.unattributedIds, ['unknown'])
  assert.equal(full.unattributedLabels, 0)
})

test('a label reported at exactly its transaction’s time (lag 0) counts for the later transactions of its terminal', () => {
  const lookups = new OfflineLookups(plan, LATENESS)
  const tx = transaction('now', T0)
  lookups.addTransaction(tx, false)
  lookups.addLabel(bankLabel('now', T0))
  assert.equal(lookups.unattributedLabels, 0)
  // Read a day and two hours later: the window (7 days ending a day back, hourly) holds T0, and the label,
  // reported at T0, is older than the cutoff (an hour back).
  assert.equal(lookupsOf(lookups, transaction('later', T0 + DAY + 2 * HOUR)).terminal_fraud_count_7d, 1)
  assert.equal(lookupsOf(lookups, transaction('later', T0 + DAY + 2 * HOUR)).terminal_fraud_ratio_7d, 1)
})

test('the offline index keeps only what a label can still use: the ids asked for, or the transactions within the horizon', () => {
  const only = new TransactionIndex({ only: new Set(['b']) })
  only.remember(transaction('a', T0))
  only.remember(transaction('b', T0))
  assert.deepEqual([only.get('a'), only.get('b')?.transactionTimeMs, only.size], [undefined, T0, 1])
  const recent = new TransactionIndex({ retainMs: DAY })
  recent.remember(transaction('old', T0))
  recent.remember(transaction('first', T0 + HOUR))
  recent.remember(transaction('first', T0 + 2 * HOUR, 't9'))
  assert.equal(recent.get('first')?.terminal_id, 't1', 'the first transaction of an id wins')
  recent.remember(transaction('new', T0 + DAY + 1))
  assert.deepEqual([recent.get('old'), recent.size], [undefined, 2])
})
