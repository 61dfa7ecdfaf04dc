import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LookupAggregator } from '../../../../src/stages/lookups/lookup-aggregator.js'
import { sourceId } from '../../../../src/stages/lookups/lookup-facts.js'
import { lookupPlanOf, requirementOf } from '../../../../src/stages/lookups/lookup-plan.js'
import { LookupTable } from '../../../../src/stages/lookups/lookup-table.js'
import { cardFraudFeatures } from '../../../../topology/features.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const T = Date.UTC(2026, 0, 20, 12)

test('buckets an aggregator holds back are not in the table, and its progress stops short of them until they are published', () => {
  const plan = lookupPlanOf(cardFraudFeatures, 60_000)
  const sources = [sourceId('tx', 0), sourceId('labels', 0)]
  const aggregator = new LookupAggregator(plan, sources)
  const table = new LookupTable(1)
  const publish = (holdFromMs?: number) => {
    for (const entry of aggregator.takeChanges(holdFromMs)) table.put(0, entry)
    table.setProgress(0, aggregator.progress)
  }
  const marker = (watermarkMs: number, throughOffset: number) =>
    aggregator.apply({ kind: 'marker', source: sources[0]!, watermarkMs, idle: false, throughOffset })
  aggregator.apply({ kind: 'marker', source: sources[1]!, watermarkMs: Infinity, idle: true, throughOffset: -1 })
  // A transaction two days back and one in the open hour, then a watermark past both.
  const fact = (offset: number, eventTimeMs: number) =>
    aggregator.apply({ kind: 'tx', key: 'terminal:t1', source: sources[0]!, offset, eventTimeMs, amount: 10 })
  fact(0, T - 2 * DAY)
  fact(1, T)
  marker(T + HOUR, 1)
  // Held: everything from half a day below the completeness on (the lookup task's rule), so the open hour.
  publish(aggregator.appliedBelowMs - DAY / 2)
  assert.equal(aggregator.progress.heldFromMs, Math.floor(T / HOUR) * HOUR)
  assert.equal(aggregator.progress.txMs, Math.floor(T / HOUR) * HOUR, 'complete below the held bucket only')
  const live = requirementOf(plan, T + 2 * HOUR)
  assert.ok(table.covers(live), 'a live transaction reads windows ending a day back: it does not wait')
  const dayLater = requirementOf(plan, T + DAY + HOUR)
  assert.equal(table.covers(dayLater), false, 'a window that reaches the held bucket waits for it')
  assert.equal(table.get('terminal:t1')!.buckets.size, 1, 'only the old bucket is in the table')
  publish()
  assert.ok(table.covers(dayLater))
  assert.equal(table.get('terminal:t1')!.buckets.size, 2)
  assert.equal(aggregator.progress.heldFromMs, undefined)
})

test('a held bucket goes out once the hold line passes it, without waiting for a full publish', () => {
  const plan = lookupPlanOf(cardFraudFeatures, 60_000)
  const sources = [sourceId('tx', 0), sourceId('labels', 0)]
  const aggregator = new LookupAggregator(plan, sources)
  const table = new LookupTable(1)
  const publish = (holdFromMs: number) => {
    for (const entry of aggregator.takeChanges(holdFromMs)) table.put(0, entry)
    table.setProgress(0, aggregator.progress)
  }
  aggregator.apply({ kind: 'marker', source: sources[1]!, watermarkMs: Infinity, idle: true, throughOffset: -1 })
  const hour = Math.floor(T / HOUR) * HOUR
  aggregator.apply({ kind: 'tx', key: 'terminal:t1', source: sources[0]!, offset: 0, eventTimeMs: T, amount: 10 })
  aggregator.apply({ kind: 'marker', source: sources[0]!, watermarkMs: T + HOUR, idle: false, throughOffset: 0 })
  publish(aggregator.appliedBelowMs - DAY / 2)
  assert.equal(aggregator.progress.heldFromMs, hour)
  assert.equal(table.get('terminal:t1'), undefined)
  // Event time runs on (a replay runs days in seconds): a day later the held hour is below the line.
  aggregator.apply({ kind: 'tx', key: 'terminal:t1', source: sources[0]!, offset: 1, eventTimeMs: T + DAY, amount: 5 })
  aggregator.apply({ kind: 'marker', source: sources[0]!, watermarkMs: T + DAY + HOUR, idle: false, throughOffset: 1 })
  publish(aggregator.appliedBelowMs - DAY / 2)
  assert.deepEqual([...table.get('terminal:t1')!.buckets.keys()], [hour], 'the old hour is out, the new one held')
  assert.equal(aggregator.progress.heldFromMs, hour + DAY)
  assert.equal(aggregator.progress.txMs, hour + DAY)
  assert.ok(table.covers(requirementOf(plan, T + DAY + HOUR)), 'a transaction a day on reads the old hour at once')
})
