import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Label } from '../../../../src/core/label-v1.js'
import type { Transaction } from '../../../../src/core/transaction-v1.js'
import { decodedTransaction } from '../../../helpers/transactions.js'
import { lookupPlanOf } from '../../../../src/stages/lookups/lookup-plan.js'
import { OfflineLookups } from '../../../../src/stages/lookups/offline-lookups.js'
import { cardFraudFeatures } from '../../../../topology/features.js'

const HOUR = 3_600_000
const T0 = Date.UTC(2026, 0, 10, 12)

function transaction(id: string, eventTimeMs: number): Transaction {
  return decodedTransaction(eventTimeMs, { transaction_id: id })
}

function fraudLabel(tx: Transaction, reportedAtMs: number): Label {
  return {
    transaction_id: tx.transaction_id,
    is_fraud: true,
    source: 'chargeback',
    reported_at: reportedAtMs,
    reportedAtMs,
    transaction_time: tx.eventTimeMs,
    transactionTimeMs: tx.eventTimeMs,
    terminal_id: tx.terminal_id,
    merchant_id: tx.merchant_id,
  }
}

test('a fraud ratio stays at most 1 when fraud labels name transactions the count never saw (a late one, one scored elsewhere)', () => {
  const lookups = new OfflineLookups(lookupPlanOf(cardFraudFeatures, 60_000), 60_000)
  const counted = transaction('counted', T0)
  const late = transaction('late', T0 + 10 * 60_000)
  lookups.addTransaction(counted, false)
  lookups.addTransaction(late, true)
  for (const [i, tx] of [counted, late, transaction('elsewhere', T0 + 20 * 60_000)].entries())
    lookups.addLabel(fraudLabel(tx, T0 + 2 * HOUR + i))
  const names = cardFraudFeatures.map((f) => f.name)
  const row = new Float32Array(names.length)
  const probe = transaction('probe', T0 + 3 * 24 * HOUR)
  lookups.fill(row, probe, probe.eventTimeMs)
  assert.equal(row[names.indexOf('terminal_tx_count_7d')], 1)
  assert.equal(row[names.indexOf('terminal_fraud_count_7d')], 3, 'labels are placed by their own fields and time')
  assert.equal(row[names.indexOf('terminal_fraud_ratio_7d')], 1)
})
