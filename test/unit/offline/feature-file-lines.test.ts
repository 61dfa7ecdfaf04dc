import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../../src/config/load.js'
import { computeFeatureFile, type FeatureFileRow } from '../../../src/offline/feature-file.js'
import { cardFraudFeatures } from '../../../topology/features.js'
import { decodedTransaction } from '../../helpers/transactions.js'

/** A transaction line as a producer writes it: no eventTimeMs, the time as toISOString writes it. */
const tx = (id: string, card: string, second: number) => {
  const timeMs = Date.UTC(2026, 0, 5, 0, 0, second)
  const { eventTimeMs, ...record } = decodedTransaction(timeMs, {
    transaction_id: id,
    card_id: card,
    entry_mode: 'chip',
    event_time: new Date(timeMs).toISOString(),
  })
  return JSON.stringify(record)
}

const label = (id: string, isFraud: boolean, reportedSecond: number) =>
  JSON.stringify({
    transaction_id: id,
    card_id: 'card_a',
    is_fraud: isFraud,
    source: 'chargeback',
    reported_at: new Date(Date.UTC(2026, 0, 6, 0, 0, reportedSecond)).toISOString(),
  })

/** computeFeatureFile with the default features and the CLI's defaults, on one thread. */
function featureFile(
  transactionsPath: string,
  labelsPath: string | undefined,
  onRow: (row: FeatureFileRow) => unknown,
) {
  return computeFeatureFile(
    {
      transactionsPath,
      ...(labelsPath ? { labelsPath } : {}),
      features: cardFraudFeatures,
      config: loadConfig(),
      partitions: 4,
      labelPartitions: 4,
      partitioner: 'murmur2',
      lookupsThread: false,
    },
    (row) => void onRow(row),
  )
}

test('a labels file is read line by line whatever its lines hold: text, blanks, envelopes, bytes, invalid ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-feature-file-labels-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const transactions = join(dir, 'tx.ndjson')
  writeFileSync(transactions, [tx('t1', 'card_a', 1), tx('t2', 'card_a', 2), tx('t3', 'card_a', 3)].join('\n') + '\n')
  const envelope = (value: string) =>
    JSON.stringify({ topic: 'labels', partition: 1, offset: 7, key: 't3', payload: value })
  const lines = [
    label('t1', true, 1), // 1: plain ASCII text
    '', // 2: blank
    '   ', // 3: blank
    `  ${label('t2', true, 2)}`, // 4: leading whitespace
    '{"transaction_id":"t2","is_fraud":', // 5: invalid JSON
    label('t2', false, 3), // 6: t2's later label wins
    envelope(label('t3', true, 4)), // 7: a kcat envelope
    '{"transaction_id":"t9","is_fraud":true,"source":"chargeback","reported_at":"2026-01-06T00:00:05.000Z","note":"é"}', // 8: not ASCII
    '{"transaction_id":"t1","is_fraud":"yes","source":"chargeback","reported_at":"2026-01-06T00:00:06.000Z"}', // 9
  ]
  const labels = join(dir, 'labels.ndjson')
  // Windows line ends: the carriage returns go as readline drops them.
  writeFileSync(labels, lines.join('\r\n') + '\r\n')
  const rows = new Map<string, boolean | undefined>()
  const { counts, invalidLabelLines } = await featureFile(transactions, labels, (row) =>
    rows.set(row.tx.transaction_id, row.label?.is_fraud),
  )
  assert.equal(counts.invalid_labels, 2)
  assert.deepEqual(invalidLabelLines, [5, 9])
  assert.deepEqual(Object.fromEntries(rows), { t1: true, t2: false, t3: true })
})

test('lines keep their numbers across the pieces a large file is read in', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-feature-file-lines-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const transactions = join(dir, 'tx.ndjson')
  // ~300 bytes a line: 20,000 lines cross many 64 KiB pieces and a 4 MiB read.
  const lines = Array.from({ length: 20_000 }, (_, i) => tx(`t${i}`, `card_${i % 97}`, i))
  for (const bad of [1, 4_321, 13_000, 20_000]) lines[bad - 1] = '{"transaction_id":'
  writeFileSync(transactions, lines.join('\n'))
  let rows = 0
  const { counts, invalidLines } = await featureFile(transactions, undefined, () => rows++)
  assert.deepEqual(invalidLines, [1, 4_321, 13_000, 20_000])
  assert.equal(counts.lines, 20_000)
  assert.equal(rows, 19_996)
})
