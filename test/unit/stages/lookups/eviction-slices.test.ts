import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LookupAggregator } from '../../../../src/stages/lookups/lookup-aggregator.js'
import { sourceId } from '../../../../src/stages/lookups/lookup-facts.js'
import { lookupPlanOf } from '../../../../src/stages/lookups/lookup-plan.js'
import { cardFraudFeatures } from '../../../../topology/features.js'

const DAY = 86_400_000
const T = Date.UTC(2026, 0, 20, 12)

/** 300 terminals with a transaction 60 days back and one today, the watermark now: the old buckets are evictable. */
function filled(): LookupAggregator {
  const plan = lookupPlanOf(cardFraudFeatures, 60_000)
  const sources = [sourceId('tx', 0), sourceId('labels', 0)]
  const aggregator = new LookupAggregator(plan, sources)
  aggregator.apply({ kind: 'marker', source: sources[1]!, watermarkMs: Infinity, idle: true, throughOffset: -1 })
  let offset = 0
  for (let i = 0; i < 300; i++) {
    const key = `terminal:t${i}`
    aggregator.apply({ kind: 'tx', key, source: sources[0]!, offset: offset++, eventTimeMs: T - 60 * DAY, amount: 5 })
    if (i % 3 > 0)
      aggregator.apply({ kind: 'tx', key, source: sources[0]!, offset: offset++, eventTimeMs: T, amount: 9 })
  }
  aggregator.apply({ kind: 'marker', source: sources[0]!, watermarkMs: T, idle: false, throughOffset: offset - 1 })
  aggregator.takeChanges()
  return aggregator
}

test('an eviction pass in slices of keys ends where one whole pass does: the same keys, buckets and tombstones', () => {
  const whole = filled()
  assert.equal(whole.evict(), true)
  const sliced = filled()
  const calls: boolean[] = []
  const evicting: boolean[] = []
  for (let done = false; !done; evicting.push(sliced.evicting)) calls.push((done = sliced.evict(64)))
  assert.deepEqual(calls, [false, false, false, false, true], '300 keys, 64 a call')
  assert.deepEqual(evicting, [true, true, true, true, false], 'a pass under way until it ends')
  assert.equal(sliced.keys.size, 200, 'the terminals with only the old transaction are gone')
  assert.deepEqual([...sliced.keys.keys()], [...whole.keys.keys()])
  for (const [key, aggregate] of whole.keys)
    assert.deepEqual([...sliced.keys.get(key)!.buckets.keys()], [...aggregate.buckets.keys()])
  const tombstones = (a: LookupAggregator) =>
    a
      .takeChanges()
      .map((e) => `${e.key} ${e.kind === 'bucket' ? e.start : e.id} ${e.value === undefined}`)
      .sort()
  const expected = tombstones(whole)
  assert.equal(expected.length, 300)
  assert.deepEqual(tombstones(sliced), expected)
  // A new pass starts after the last one ended, and finds nothing more to evict.
  assert.equal(sliced.evict(1_000), true)
  assert.equal(sliced.takeChanges().length, 0)
})
