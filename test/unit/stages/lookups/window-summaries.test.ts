import assert from 'node:assert/strict'
import { test } from 'node:test'
import { addToBucket, emptyBucket, lookupValueOf, type Bucket } from '../../../../src/stages/lookups/key-aggregate.js'
import { LookupTable } from '../../../../src/stages/lookups/lookup-table.js'
import type { LookupFeature } from '../../../../src/stages/features/feature-definition.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const T = Date.UTC(2026, 0, 20)
const feature = (aggregation: 'count' | 'fraud_count'): LookupFeature => ({
  kind: 'lookup',
  name: `terminal_${aggregation}`,
  key: 'terminal',
  aggregation,
  resolutionMs: HOUR,
  spanMs: 7 * DAY,
  delayMs: DAY,
  labelLagMs: HOUR,
  description: 'test',
})

function bucket(amounts: number[], atMs: number): Bucket {
  const b = emptyBucket()
  for (const amount of amounts) addToBucket(b, { amount, eventTimeMs: atMs })
  return b
}

/** Reads a feature of terminal t1 as the lookups stage does: through the table's window summaries. */
function read(table: LookupTable, f: LookupFeature, atMs: number): number {
  const aggregate = table.get('terminal:t1')!
  const endMs = Math.floor((atMs - f.delayMs) / f.resolutionMs) * f.resolutionMs
  const summary = table.summaries.summaryOf(aggregate, endMs - f.spanMs, endMs)
  return lookupValueOf(summary, aggregate, f, { eventTimeMs: atMs, amount: 1 })
}

test('a window summary is reused while nothing inside its window changes, and worked out again when something does', () => {
  const table = new LookupTable(1)
  const inWindow = T - 3 * DAY
  table.put(0, { kind: 'bucket', key: 'terminal:t1', start: inWindow, value: bucket([5, 7], inWindow) })
  assert.equal(read(table, feature('count'), T), 2)
  const aggregate = table.get('terminal:t1')!
  const endMs = T - DAY
  const first = table.summaries.summaryOf(aggregate, endMs - 7 * DAY, endMs)

  // The open hour's bucket lies after the window's end: the summary stays.
  table.put(0, { kind: 'bucket', key: 'terminal:t1', start: T, value: bucket([1, 1, 1], T) })
  assert.equal(table.summaries.summaryOf(aggregate, endMs - 7 * DAY, endMs), first)
  assert.equal(read(table, feature('count'), T), 2)

  // A bucket inside the window (a stale read saw it incomplete) changes the count.
  table.put(0, { kind: 'bucket', key: 'terminal:t1', start: inWindow, value: bucket([5, 7, 9], inWindow) })
  assert.equal(read(table, feature('count'), T), 3)

  // A label changes the fraud count, not the window's sums.
  assert.equal(read(table, feature('fraud_count'), T), 0)
  table.put(0, {
    kind: 'label',
    key: 'terminal:t1',
    id: 'labels/0@1',
    value: ['tx1', inWindow, inWindow + HOUR, true, 1],
  })
  assert.equal(read(table, feature('fraud_count'), T), 1)
  assert.equal(read(table, feature('count'), T), 3)

  // A bucket evicted from the window.
  table.put(0, { kind: 'bucket', key: 'terminal:t1', start: inWindow, value: undefined })
  assert.equal(read(table, feature('count'), T), 0)
})
