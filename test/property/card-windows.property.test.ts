import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Transaction } from '../../src/core/transaction-v1.js'
import { CardWindows, LOG_HEADER } from '../../src/stages/windows/card-windows.js'
import { compileWindows } from '../../src/stages/windows/compile-windows.js'
import { populationStddev } from '../../src/stages/windows/window-math.js'
import type { FeatureDefinition, WindowAggregation } from '../../src/stages/features/feature-definition.js'

const SPANS = [10, 60, 300]
const LATENESS = 20

/** Brute force over the events actually added, (t − W, t], plus the current event (an undelayed window holds it). */
function bruteForce(
  added: { card: string; t: number; amount: number }[],
  card: string,
  t: number,
  spanMs: number,
  amount: number,
) {
  const inWindow = [...added.filter((e) => e.card === card && e.t > t - spanMs && e.t <= t), { amount }]
  return {
    count: inWindow.length,
    sum: inWindow.reduce((s, e) => s + e.amount, 0),
    // Deviations from one of the amounts, as populationStddev takes them.
    sumOfDeviations: inWindow.reduce((s, e) => s + (e.amount - amount), 0),
    sumOfSquaredDeviations: inWindow.reduce((s, e) => s + (e.amount - amount) ** 2, 0),
    min: Math.min(...inWindow.map((e) => e.amount)),
    max: Math.max(...inWindow.map((e) => e.amount)),
  }
}

const AGGREGATIONS = ['count', 'sum', 'min', 'max', 'stddev'] as const

/** count, sum, min, max and stddev per span, then seconds_since_last over the longest span, of the card key. */
function cardWindows(
  spans: readonly number[],
  delayMs = 0,
  aggregations: readonly WindowAggregation[] = AGGREGATIONS,
): FeatureDefinition[] {
  return [
    ...spans.flatMap((spanMs) =>
      aggregations.map((aggregation): FeatureDefinition => ({
        kind: 'window',
        name: `${aggregation}_${spanMs}`,
        key: 'card',
        aggregation,
        spanMs,
        delayMs,
        description: '',
      })),
    ),
    {
      kind: 'window',
      name: 'since_last',
      key: 'card',
      aggregation: 'seconds_since_last',
      spanMs: Math.max(...spans),
      delayMs,
      description: '',
    },
  ]
}

/** The windows' values at t with the current event of `amount`: one number per definition (doubles, not float32). */
function scan(
  w: CardWindows,
  card: string,
  t: number,
  amount: number,
  definitions: readonly FeatureDefinition[],
): Float64Array {
  const compiled = compileWindows(definitions)
  const row = new Float64Array(definitions.length)
  compiled.columns(w, { card_id: card, eventTimeMs: t, amount } as Transaction, Float64Array.of(amount), row)
  return row
}

const streamArb = fc.array(
  fc.record({
    card: fc.constantFrom('a', 'b', 'c'),
    dt: fc.integer({ min: -30, max: 15 }),
    amount: fc.double({ min: 0, max: 1000, noNaN: true }),
  }),
  { maxLength: 200 },
)

test('one-pass window scans equal brute force over out-of-order, late and equal-time events; late events never enter state', () => {
  fc.assert(
    fc.property(streamArb, (steps) => {
      const w = new CardWindows({ horizonMs: Math.max(...SPANS), allowedLatenessMs: LATENESS })
      const added: { card: string; t: number; amount: number }[] = []
      let clock = 1_000
      let maxSeen = -Infinity
      for (const step of steps) {
        clock = Math.max(0, clock + step.dt)
        const t = clock
        const row = scan(w, step.card, t, step.amount, cardWindows(SPANS))
        SPANS.forEach((span, k) => {
          const want = bruteForce(added, step.card, t, span, step.amount)
          const [count, sum, min, max, stddev] = row.subarray(k * AGGREGATIONS.length)
          assert.equal(count, want.count, 'count')
          assert.ok(Math.abs(sum! - want.sum) <= 1e-9 * Math.max(1, want.sum), 'sum')
          assert.equal(min, want.min)
          assert.equal(max, want.max)
          const wantStddev = populationStddev(want.count, want.sumOfDeviations, want.sumOfSquaredDeviations)
          assert.ok(Math.abs(stddev! - wantStddev) <= 1e-9 * Math.max(1, wantStddev), 'stddev')
        })
        // The gap to the newest earlier event, capped at the longest span.
        const earlier = added.filter((e) => e.card === step.card && e.t <= t).map((e) => e.t)
        assert.equal(
          row.at(-1),
          Math.min(Math.max(...SPANS), earlier.length ? t - Math.max(...earlier) : Infinity) / 1000,
        )
        const late = t < maxSeen - LATENESS
        assert.equal(w.add(step.card, t, [step.amount]), late)
        if (!late) {
          added.push({ card: step.card, t, amount: step.amount })
          maxSeen = Math.max(maxSeen, t)
        }
      }
    }),
    { numRuns: 300 },
  )
})

test('events past the attributes horizon keep only their time, and delayed count windows reading them stay exact', () => {
  // The undelayed windows need amounts for 300 ms; a count-only window 300 ms back reaches 600 ms.
  const delayed = cardWindows([100, 300], 300, ['count'])
  const undelayed = cardWindows(SPANS)
  fc.assert(
    fc.property(streamArb, (steps) => {
      const w = new CardWindows({
        horizonMs: 600,
        attributesHorizonMs: Math.max(...SPANS),
        allowedLatenessMs: LATENESS,
      })
      const added: { card: string; t: number; amount: number }[] = []
      let clock = 1_000
      let maxSeen = -Infinity
      for (const step of steps) {
        clock = Math.max(0, clock + step.dt * 4)
        const t = clock
        // A late event is scored with the state as it is, which may have lost what its windows reach: not checked.
        if (t < maxSeen - LATENESS) continue
        maxSeen = Math.max(maxSeen, t)
        const recent = scan(w, step.card, t, step.amount, undelayed)
        SPANS.forEach((span, k) =>
          assert.equal(recent[k * AGGREGATIONS.length], bruteForce(added, step.card, t, span, step.amount).count),
        )
        const row = scan(w, step.card, t, step.amount, [...undelayed, ...delayed])
        ;[100, 300].forEach((span, k) => {
          const want = added.filter((e) => e.card === step.card && e.t > t - 300 - span && e.t <= t - 300).length
          assert.equal(row[undelayed.length + k], want, `count over (${t - 300 - span}, ${t - 300}]`)
        })
        const earlier = added.filter((e) => e.card === step.card && e.t <= t - 300).map((e) => e.t)
        assert.equal(row.at(-1), Math.min(300, earlier.length ? t - 300 - Math.max(...earlier) : Infinity) / 1000)
        assert.equal(w.add(step.card, t, [step.amount]), false)
        added.push({ card: step.card, t, amount: step.amount })
      }
      const fresh = CardWindows.fromSnapshot(w.options, w.toSnapshot())
      for (const card of ['a', 'b', 'c'])
        assert.deepEqual(fresh.logOf(card), w.logOf(card), 'a snapshot restores the log')
    }),
    { numRuns: 300 },
  )
})

test('idle cards are evicted after the longest span and byte accounting returns to zero', () => {
  const w = new CardWindows({ horizonMs: 100, allowedLatenessMs: 0 })
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
  const oneEvent = new CardWindows({ horizonMs: 100, allowedLatenessMs: 0 })
  oneEvent.add('x', 0, [1])
  assert.equal(w.estimatedBytes, oneEvent.estimatedBytes, 'one card with one event left')
})

test('over its byte budget the state drops idle cards, then the least recently active, and never throws', () => {
  const w = new CardWindows({ horizonMs: 1_000_000, allowedLatenessMs: 0 })
  for (let i = 0; i < 100; i++) w.add(`card-${i}`, i, [1])
  const full = w.estimatedBytes
  const evicted = w.enforceBudget(full / 2)
  assert.ok(evicted >= 50 && w.estimatedBytes <= full / 2)
  const count = cardWindows([1_000_000], 0, ['count'])
  assert.equal(
    scan(w, 'card-0', 100, 1, count)[0],
    1,
    'the least recently active cards went first (only the current event is left)',
  )
  assert.equal(scan(w, 'card-99', 100, 1, count)[0], 2, 'the most recent stayed')
  assert.equal(w.enforceBudget(full), 0, 'nothing to do under budget')
})

test('over budget, exactly the cards first in (newest event, card id) order go, as few as bring the estimate under 90 % of the budget', () => {
  fc.assert(
    fc.property(
      // Times a quarter minute apart over ten minutes: several cards per minute, and equal newest times.
      fc.array(
        fc.record({
          card: fc.integer({ min: 0, max: 40 }),
          t: fc.integer({ min: 0, max: 40 }).map((k) => k * 15_000),
          values: fc.integer({ min: 1, max: 3 }),
        }),
        { minLength: 1, maxLength: 200 },
      ),
      fc.double({ min: 0.05, max: 1, noNaN: true }),
      (events, share) => {
        const options = { horizonMs: 3_600_000, allowedLatenessMs: 3_600_000 }
        const w = new CardWindows(options)
        const byCard = new Map<string, { t: number; values: number[] }[]>()
        for (const e of events) {
          // Ids of several lengths: a card's bytes include its stored id.
          const card = `c${'x'.repeat(e.card % 7)}${e.card}`
          const values = Array.from({ length: e.values }, (_, i) => i + 1)
          w.add(card, e.t, values.slice(0, 1))
          byCard.set(card, [...(byCard.get(card) ?? []), { t: e.t, values }])
        }
        // The oracle: each card's bytes measured alone (the estimate is linear in the cards), then the old sort.
        const cards = [...byCard].map(([card, list]) => {
          const alone = new CardWindows(options)
          for (const e of list) alone.add(card, e.t, e.values.slice(0, 1))
          return { card, newest: Math.max(...list.map((e) => e.t)), bytes: alone.estimatedBytes }
        })
        cards.sort((a, b) => a.newest - b.newest || (a.card < b.card ? -1 : a.card > b.card ? 1 : 0))
        const budget = w.estimatedBytes * share
        let estimate = w.estimatedBytes
        const expectedGone = new Set<string>()
        if (estimate > budget) {
          for (const c of cards) {
            if (estimate <= budget * 0.9) break
            estimate -= c.bytes
            expectedGone.add(c.card)
          }
        }
        assert.equal(w.enforceBudget(budget), expectedGone.size)
        assert.deepEqual(
          cards.filter((c) => w.locate(c.card) < 0).map((c) => c.card),
          cards.filter((c) => expectedGone.has(c.card)).map((c) => c.card),
        )
        assert.equal(w.estimatedBytes, estimate)
      },
    ),
    { numRuns: 300 },
  )
})

test('a budget met by dropping idle cards (past their TTL) reports no budget eviction', () => {
  const w = new CardWindows({ horizonMs: 1_000, allowedLatenessMs: 0 })
  for (let i = 0; i < 100; i++) w.add(`idle-${i}`, i, [1])
  for (let i = 0; i < 10; i++) w.add(`active-${i}`, 5_000 + i, [1])
  assert.equal(w.enforceBudget(w.estimatedBytes / 2), 0)
  assert.equal(w.cardCount, 10, 'the idle cards went, the active ones stayed')
})

test('a sliced sweep finds every idle key across calls', () => {
  const w = new CardWindows({ horizonMs: 10, allowedLatenessMs: 0 })
  for (let i = 0; i < 50; i++) w.add(`old-${i}`, 0, [1])
  w.add('fresh', 1_000, [1])
  let evicted = 0
  let calls = 0
  for (; w.cardCount > 1 && calls < 10_000; calls++) evicted += w.evictIdle(7)
  assert.equal(evicted, 50)
  assert.ok(calls < 10_000)
  assert.equal(w.cardCount, 1)
})

test('logs stay the same when tiny memory pages make the arena evacuate all the time', () => {
  const definitions = cardWindows(SPANS)
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          card: fc.integer({ min: 0, max: 30 }),
          dt: fc.integer({ min: -5, max: 20 }),
          amount: fc.double({ min: 0, max: 1000, noNaN: true }),
        }),
        { maxLength: 300 },
      ),
      (steps) => {
        // 32-slot pages hold a few cards each; cards growing past a page get pages of their own.
        const tiny = new CardWindows({ horizonMs: Math.max(...SPANS), allowedLatenessMs: LATENESS, pageBits: 5 })
        const reference = new CardWindows({ horizonMs: Math.max(...SPANS), allowedLatenessMs: LATENESS })
        let clock = 1_000
        // Some ids have units above 255 (stored 3 to a slot instead of 6).
        const idOf = (card: number) => (card % 3 === 0 ? `карта-${card}` : `card-${card}`)
        for (const step of steps) {
          clock = Math.max(0, clock + step.dt)
          const card = idOf(step.card)
          assert.deepEqual(
            scan(tiny, card, clock, step.amount, definitions),
            scan(reference, card, clock, step.amount, definitions),
          )
          assert.equal(tiny.add(card, clock, [step.amount]), reference.add(card, clock, [step.amount]))
          assert.equal(tiny.evictIdle(8), reference.evictIdle(8))
        }
        const restored = CardWindows.fromSnapshot(tiny.options, tiny.toSnapshot())
        for (let card = 0; card <= 30; card++) {
          assert.deepEqual(tiny.logOf(idOf(card)), reference.logOf(idOf(card)))
          assert.deepEqual(restored.logOf(idOf(card)), reference.logOf(idOf(card)), 'a snapshot keeps ids and logs')
        }
        assert.equal(tiny.estimatedBytes, reference.estimatedBytes)
        assert.equal(restored.estimatedBytes, reference.estimatedBytes)
      },
    ),
    { numRuns: 200 },
  )
})

test('late events see the same windows whenever idle cards are evicted (eviction timing is not in a snapshot)', () => {
  const definitions = [...cardWindows(SPANS), ...cardWindows([100, 300], 300, ['count'])]
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          card: fc.constantFrom('a', 'b', 'c'),
          dt: fc.integer({ min: -700, max: 200 }),
          amount: fc.double({ min: 0, max: 1000, noNaN: true }),
        }),
        { maxLength: 200 },
      ),
      (steps) => {
        const eager = new CardWindows({
          horizonMs: 600,
          attributesHorizonMs: Math.max(...SPANS),
          allowedLatenessMs: LATENESS,
        })
        const lazy = new CardWindows({
          horizonMs: 600,
          attributesHorizonMs: Math.max(...SPANS),
          allowedLatenessMs: LATENESS,
        })
        let clock = 1_000
        for (const step of steps) {
          clock = Math.max(0, clock + step.dt)
          assert.deepEqual(
            scan(eager, step.card, clock, step.amount, definitions),
            scan(lazy, step.card, clock, step.amount, definitions),
          )
          eager.add(step.card, clock, [step.amount])
          lazy.add(step.card, clock, [step.amount])
          eager.evictIdle()
        }
      },
    ),
    { numRuns: 300 },
  )
  // The case spelled out: card a idle past the horizon, then a late event of a that reaches back to it.
  const eager = new CardWindows({ horizonMs: 600, attributesHorizonMs: 300, allowedLatenessMs: LATENESS })
  const lazy = new CardWindows({ horizonMs: 600, attributesHorizonMs: 300, allowedLatenessMs: LATENESS })
  for (const w of [eager, lazy]) {
    w.add('a', 1_000, [1])
    w.add('b', 2_000, [1])
  }
  assert.equal(eager.evictIdle(), 1, 'a is idle: 1,000 is at or below the watermark 1,980 − the horizon 600')
  const late = 1_200
  assert.ok(eager.isLate(late))
  assert.deepEqual(scan(eager, 'a', late, 1, definitions), scan(lazy, 'a', late, 1, definitions))
  assert.equal(
    scan(lazy, 'a', late, 1, definitions)[0],
    1,
    'the expired event is in no window: only the current one counts',
  )
})

test("the idle sweep skips by each card's newest minute in the table, and still evicts exactly the cards idle past the horizon", () => {
  const MINUTE = 60_000
  const newestOf = (log: number[]) =>
    Math.max(
      ...log.slice(LOG_HEADER, LOG_HEADER + log[1]!),
      ...log.slice(LOG_HEADER + log[1]!).filter((_, i) => i % 2 === 0),
    )
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          card: fc.integer({ min: 0, max: 2_000 }),
          // Mostly seconds apart (hundreds of cards live at once: the table grows), sometimes a jump of up to two
          // horizons (many turn idle; some newest events land in the cutoff's own minute).
          dt: fc.oneof(
            { arbitrary: fc.integer({ min: -10_000, max: 10_000 }), weight: 300 },
            { arbitrary: fc.integer({ min: 0, max: 120 * MINUTE }), weight: 1 },
          ),
          action: fc.oneof(
            { arbitrary: fc.constant('add' as const), weight: 12 },
            { arbitrary: fc.constant('sweep' as const), weight: 3 },
            { arbitrary: fc.constant('restore' as const), weight: 1 },
          ),
        }),
        { minLength: 100, maxLength: 2_000, size: 'max' },
      ),
      (steps) => {
        const options = { horizonMs: 60 * MINUTE, allowedLatenessMs: MINUTE }
        let w = new CardWindows(options)
        const seen = new Set<string>()
        let clock = Date.UTC(2026, 0, 1)
        for (const step of steps) {
          clock += step.dt
          if (step.action === 'sweep') w.evictIdle(64)
          else if (step.action === 'restore') w = CardWindows.fromSnapshot(options, w.toSnapshot())
          else {
            w.add(`card-${step.card}`, clock, [1])
            seen.add(`card-${step.card}`)
          }
        }
        const cutoff = w.expiredAtOrBeforeMs
        const idle = [...seen].filter((id) => {
          const log = w.logOf(id)
          return log !== undefined && newestOf(log) <= cutoff
        })
        const held = [...seen].filter((id) => w.logOf(id) !== undefined).length
        assert.equal(w.evictIdle(), idle.length)
        assert.equal(w.cardCount, held - idle.length)
        for (const id of idle) assert.equal(w.logOf(id), undefined, `${id} is idle`)
      },
    ),
    { numRuns: 40, endOnFailure: true },
  )
})

test('warming the cards of coming transactions changes no row, log or estimate', () => {
  const definitions = cardWindows(SPANS)
  const ids = Array.from({ length: 121 }, (_, card) => `card-${card}`)
  // A processed card: the next warmed one, or one a few further (records of the poll skipped as duplicates or
  // invalid: the job's case), or any card (out of warm order).
  const processArb = fc.record({
    warmed: fc.option(fc.constantFrom(0, 0, 0, 1, 2), { nil: undefined, freq: 4 }),
    card: fc.integer({ min: 0, max: 120 }),
    // The same string the warm call saw, or an equal one made anew.
    fresh: fc.boolean(),
    // Fast enough that cards turn idle within a step and eviction deletes them.
    dt: fc.integer({ min: -5, max: 40 }),
    amount: fc.double({ min: 0, max: 1000, noNaN: true }),
    // Idle eviction between lookups deletes table entries: slots found by the warm call move.
    sweep: fc.constantFrom(0, 0, 4, 64, Infinity),
  })
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          warm: fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 8, maxLength: 80 }),
          process: fc.array(processArb, { minLength: 4, maxLength: 40 }),
        }),
        { maxLength: 30 },
      ),
      (steps) => {
        // A table of 4 slots at first: it grows, and its long probe runs shift on deletion.
        const options = { horizonMs: Math.max(...SPANS), allowedLatenessMs: LATENESS, pageBits: 6, tableBits: 2 }
        const warmed = new CardWindows(options)
        const plain = new CardWindows(options)
        let clock = 1_000
        for (const step of steps) {
          // Repeats, known and unknown cards, more than one call loads.
          warmed.warm(step.warm.map((c) => ({ card_id: ids[c]! })))
          let next = 0
          for (const record of step.process) {
            clock = Math.max(0, clock + record.dt)
            const inOrder = record.warmed !== undefined && next + record.warmed < step.warm.length
            if (inOrder) next += record.warmed!
            const index = inOrder ? step.warm[next++]! : record.card
            const card = record.fresh ? `card-${index}` : ids[index]!
            assert.deepEqual(
              scan(warmed, card, clock, record.amount, definitions),
              scan(plain, card, clock, record.amount, definitions),
            )
            assert.equal(warmed.add(card, clock, [record.amount]), plain.add(card, clock, [record.amount]))
            assert.equal(warmed.evictIdle(record.sweep), plain.evictIdle(record.sweep))
          }
        }
        for (const id of ids) assert.deepEqual(warmed.logOf(id), plain.logOf(id))
        assert.equal(warmed.estimatedBytes, plain.estimatedBytes)
      },
    ),
    { numRuns: 100, endOnFailure: true },
  )
})
