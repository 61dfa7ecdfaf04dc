import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AggregatorProgress } from '../../../../src/stages/lookups/lookup-aggregator.js'
import { aggregatorCovers, type SourceKnowledge } from '../../../../src/stages/lookups/table-coverage.js'

const T = Date.UTC(2026, 0, 20, 12)
const HOUR = 3_600_000

/** Knowledge of another instance's sources only, with the given fresh log ends; records what it was asked for. */
function knowing(logEnds: Record<string, number>): SourceKnowledge & { asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    owned: () => undefined,
    freshLogEnd: (source) => {
      asked.push(source)
      return logEnds[source]
    },
  }
}

/** A partition's progress: tx/0 complete to T, labels/0 quiet since two hours before T (idle or not). */
const progress = (labelsIdle: boolean): AggregatorProgress => ({
  txMs: T,
  labelsMs: labelsIdle ? Infinity : T - 2 * HOUR,
  markers: [
    ['tx/0', T, false, 99],
    ['labels/0', T - 2 * HOUR, labelsIdle, 4],
  ],
})

test('a quiet labels partition read to its end holds nothing back once a fresh log end confirms it', () => {
  const need = { txMs: T - HOUR, labelsMs: T - HOUR }
  const confirmed = knowing({ 'labels/0': 5 })
  assert.equal(aggregatorCovers(progress(true), need, confirmed), true)
  assert.deepEqual(confirmed.asked, ['labels/0'])
  // Labels appended that the lookup group has not read yet: they may be reported before the cutoff.
  assert.equal(aggregatorCovers(progress(true), need, knowing({ 'labels/0': 7 })), false)
  // No answer yet to a query sent after the transaction arrived: it waits for one, and asks.
  const unanswered = knowing({})
  assert.equal(aggregatorCovers(progress(true), need, unanswered), false)
  assert.deepEqual(unanswered.asked, ['labels/0'])
})

test('labels behind the cutoff without an idle claim hold the transaction; labels past it or not needed do not', () => {
  const need = { txMs: T - HOUR, labelsMs: T - HOUR }
  const knowledge = knowing({ 'labels/0': 5 })
  assert.equal(aggregatorCovers(progress(false), need, knowledge), false, 'still reading: its watermark counts')
  assert.deepEqual(knowledge.asked, [], 'a partition not claimed idle is not asked for')
  assert.equal(aggregatorCovers(progress(false), { txMs: T - HOUR, labelsMs: T - 3 * HOUR }, knowledge), true)
  assert.equal(aggregatorCovers(progress(false), { txMs: T - HOUR, labelsMs: -Infinity }, knowledge), true)
  const missing: AggregatorProgress = { ...progress(true), labelsMs: -Infinity, markers: [['tx/0', T, false, 99]] }
  assert.equal(aggregatorCovers(missing, need, knowledge), false, 'a labels source that never reported')
})
