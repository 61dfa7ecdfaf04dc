import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Transaction } from '../../src/core/transaction-v1.js'
import { CardWindows } from '../../src/stages/windows/card-windows.js'
import { eventLayoutOf, GroupScan, scanGroups, type WindowStats } from '../../src/stages/windows/window-scan.js'

const SPANS = [10, 60, 300]
const LATENESS = 20

/** Brute force over the events actually added, (t − W, t], plus the current event (an undelayed window holds it). */
function bruteForce(added: { card: string; t: number; amount: number }[], card: string, t: number, spanMs: number, amount: number) {
  const inWindow = [...added.filter((e) => e.card === card && e.t > t - spanMs && e.t <= t), { amount }]
  return {
    count: inWindow.length,
    sum: inWindow.reduce((s, e) => s + e.amount, 0),
    sumSquares: inWindow.reduce((s, e) => s + e.amount * e.amount, 0),
    min: Math.min(...inWindow.map((e) => e.amount)),
    max: Math.max(...inWindow.map((e) => e.amount)),
  }
}

/** The card's unfiltered windows over `spans` at t, with the current event of `amount`, and the newest event before. */
function scan(w: CardWindows, card: string, t: number, spans: readonly number[], amount: number): { stats: WindowStats; previous: number | undefined } {
  const group = { id: 'card||0', key: 'card' as const, filter: undefined, field: undefined, delayMs: 0, spans, horizonMs: Math.max(...spans) }
  const view = new GroupScan(group, eventLayoutOf([group]))
  scanGroups(w.history(card), w.stride, { card_id: card, eventTimeMs: t, amount } as Transaction, Float64Array.of(amount), [view])
  return { stats: view.stats, previous: view.previousMs }
}

const streamArb = fc.array(
  fc.record({ card: fc.constantFrom('a', 'b', 'c'), dt: fc.integer({ min: -30, max: 15 }), amount: fc.double({ min: 0, max: 1000, noNaN: true }) }),
  { maxLength: 200 },
)

test('one-pass window scans equal brute force over out-of-order, late and equal-time events; late events never enter state', () => {
  fc.assert(
    fc.property(streamArb, (steps) => {
      const w = new CardWindows({ maxSpanMs: Math.max(...SPANS), allowedLatenessMs: LATENESS })
      const added: { card: string; t: number; amount: number }[] = []
      let clock = 1_000
      let maxSeen = -Infinity
      for (const step of steps) {
        clock = Math.max(0, clock + step.dt)
        const t = clock
        const { stats, previous } = scan(w, step.card, t, SPANS, step.amount)
        SPANS.forEach((span, k) => {
          const want = bruteForce(added, step.card, t, span, step.amount)
          assert.equal(stats.counts[k], want.count, 'one-pass scan count')
          assert.ok(Math.abs(stats.sums[k]! - want.sum) <= 1e-9 * Math.max(1, want.sum), 'one-pass scan sum')
          assert.ok(Math.abs(stats.sumSquares[k]! - want.sumSquares) <= 1e-9 * Math.max(1, want.sumSquares), 'one-pass scan sum of squares')
          assert.equal(stats.mins[k], want.min)
          assert.equal(stats.maxs[k], want.max)
        })
        // The newest earlier event inside the longest span (older ones are capped at the span by the features).
        const earlier = added.filter((e) => e.card === step.card && e.t <= t && e.t > t - Math.max(...SPANS)).map((e) => e.t)
        assert.equal(previous, earlier.length ? Math.max(...earlier) : undefined)
        const late = t < maxSeen - LATENESS
        assert.equal(w.add(step.card, t, [step.amount]).late, late)
        if (!late) {
          added.push({ card: step.card, t, amount: step.amount })
          maxSeen = Math.max(maxSeen, t)
        }
      }
    }),
    { numRuns: 300 },
  )
})

test('idle cards are evicted after the longest span and byte accounting returns to zero', () => {
  const w = new CardWindows({ maxSpanMs: 100, allowedLatenessMs: 0 })
  w.add('a', 0, [1])
  w.add('b', 50, [1])
  assert.ok(w.estimatedBytes > 0)
  w.add('c', 1_000, [1])
  assert.equal(w.evictIdle(), 2)
  assert.equal(w.cardCount, 1)
  w.add('c', 5_000, [1])
  w.evictIdle()
  w.add('d', 10_000, [1])
  w.evictIdle()
  assert.equal(w.cardCount, 1)
  assert.equal(w.estimatedBytes, 160 + 16, 'one card with one event left')
})

test('over its byte budget the state drops idle cards, then the least recently active, and never throws', () => {
  const w = new CardWindows({ maxSpanMs: 1_000_000, allowedLatenessMs: 0 })
  for (let i = 0; i < 100; i++) w.add(`card-${i}`, i, [1])
  const full = w.estimatedBytes
  const evicted = w.enforceBudget(full / 2)
  assert.ok(evicted >= 50 && w.estimatedBytes <= full / 2)
  assert.equal(scan(w, 'card-0', 100, [1_000_000], 1).stats.counts[0], 1, 'the least recently active cards went first (only the current event is left)')
  assert.equal(scan(w, 'card-99', 100, [1_000_000], 1).stats.counts[0], 2, 'the most recent stayed')
  assert.equal(w.enforceBudget(full), 0, 'nothing to do under budget')
})

test('a sliced sweep finds every idle key across calls', () => {
  const w = new CardWindows({ maxSpanMs: 10, allowedLatenessMs: 0 })
  for (let i = 0; i < 50; i++) w.add(`old-${i}`, 0, [1])
  w.add('fresh', 1_000, [1])
  let evicted = 0
  for (let call = 0; call < 10; call++) evicted += w.evictIdle(7)
  assert.equal(evicted, 50)
  assert.equal(w.cardCount, 1)
})
