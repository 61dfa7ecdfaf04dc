import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { features } from '../../../examples/features/backtest-30d.js'
import { partitionOf } from '../../../src/adapters/kafka/partitioner.js'
import { loadConfig } from '../../../src/config/load.js'
import type { Transaction } from '../../../src/core/transaction-v1.js'
import { TransactionGenerator } from '../../../src/generator/transaction-generator.js'
import { computeFeatureFile, type FeatureFileRow } from '../../../src/offline/feature-file.js'
import { LookupsThread } from '../../../src/offline/lookups-thread.js'
import { lookupPlanOf } from '../../../src/stages/lookups/lookup-plan.js'
import { decodedTransaction } from '../../helpers/transactions.js'

const DAY_MS = 86_400_000

/**
 * A generated file as a topic dump would hold it: each partition in order, partition 0's records 500 lines behind the
 * others' (hours of event time, so rows wait for its watermark), duplicates and invalid lines; every fourth label
 * stripped to what a bank sends (its transaction found by a first pass).
 */
function generatedFiles(dir: string): { transactions: string; labels: string } {
  const generator = new TransactionGenerator({
    seed: 23,
    customers: 300,
    merchants: 40,
    fraudRate: 0.03,
    invalidRate: 0.005,
    duplicateRate: 0.01,
  })
  const lines: string[] = []
  const held: string[] = []
  const labels: string[] = []
  for (let i = 0; i < 36_000; i++) {
    const record = generator.next()
    const text = record.value.toString()
    if (record.topic === 'labels') {
      const label = JSON.parse(text) as Record<string, unknown>
      const { transaction_id, is_fraud, source, reported_at } = label
      labels.push(labels.length % 4 === 3 ? JSON.stringify({ transaction_id, is_fraud, source, reported_at }) : text)
    } else if (record.key !== null && partitionOf(record.key, 4, 'murmur2') === 0) held.push(text)
    else lines.push(text)
    if (held.length > 500) lines.push(held.shift()!)
  }
  lines.push(...held)
  const transactions = join(dir, 'tx.ndjson')
  const labelsPath = join(dir, 'labels.ndjson')
  writeFileSync(transactions, lines.join('\n') + '\n')
  writeFileSync(labelsPath, labels.join('\n') + '\n')
  return { transactions, labels: labelsPath }
}

test('the lookups on a thread of their own give every row the single-thread pass gives it, bit for bit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-lookups-thread-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const files = generatedFiles(dir)
  const pass = async (lookupsThread: boolean) => {
    const rows: { id: string; row: number[]; late: boolean; label: boolean | undefined; line: number }[] = []
    const result = await computeFeatureFile(
      {
        transactionsPath: files.transactions,
        labelsPath: files.labels,
        features,
        config: loadConfig(),
        partitions: 4,
        labelPartitions: 4,
        partitioner: 'murmur2',
        lookupsThread,
      },
      // A promise now and then, as a CSV writer's wait on a full buffer: the thread's rows wait with the reading.
      async (row: FeatureFileRow) => {
        rows.push({
          id: row.tx.transaction_id,
          row: Array.from(row.row),
          late: row.late,
          label: row.label?.is_fraud,
          line: row.source.line,
        })
        if (rows.length % 5_000 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
      },
    )
    return { rows, result }
  }
  const single = await pass(false)
  const threaded = await pass(true)
  assert.deepEqual(threaded.result, single.result)
  assert.equal(threaded.rows.length, single.rows.length)
  assert.ok(single.rows.length > 30_000, `${single.rows.length} rows`)
  for (let i = 0; i < single.rows.length; i++) assert.deepEqual(threaded.rows[i], single.rows[i], `row ${i}`)
  // The lookups did something: terminal counts over 30 days and known fraud at terminals, from labels.
  const names = features.map((f) => f.name)
  const count30 = names.indexOf('terminal_tx_count_30d_lb')
  const fraud30 = names.indexOf('terminal_fraud_count_30d_lb')
  assert.ok(single.rows.filter((r) => r.row[count30]! > 0).length > 20_000)
  assert.ok(single.rows.filter((r) => r.row[fraud30]! > 0).length > 500)
  assert.ok(single.result.counts.unattributed_labels < single.result.counts.rows)
})

test('a failure on the lookups thread reaches the caller, and the thread can be closed', async () => {
  const plan = lookupPlanOf(features, 60_000)
  const thread = new LookupsThread<{ tx: Transaction; row: Float32Array }>(plan)
  await thread.labels([])
  const start = Date.UTC(2026, 0, 5)
  const row = (timeMs: number) => ({
    tx: decodedTransaction(timeMs, { terminal_id: 't1', merchant_id: 'm1' }),
    row: new Float32Array(features.length),
  })
  // The second transaction is on time by its watermark, yet below a window the first row's read already covered.
  thread.add(row(start + 40 * DAY_MS), false, start + 40 * DAY_MS, start + 40 * DAY_MS)
  thread.add(row(start), false, start, start + 40 * DAY_MS)
  thread.end()
  await assert.rejects(async () => {
    while (!thread.done) await thread.answer()
  }, /the lookups worker failed: .*below a lookup window already read/)
  await thread.close()
})
