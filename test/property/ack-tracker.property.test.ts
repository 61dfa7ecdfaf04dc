import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { AckTracker } from '../../src/runtime/ack-tracker.js'

test('committable is always one past the highest contiguous fully-acked offset, whatever the ack order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1_000 }),
      fc.array(fc.record({ gap: fc.integer({ min: 1, max: 3 }), acks: fc.integer({ min: 0, max: 3 }) }), {
        minLength: 1,
        maxLength: 60,
      }),
      fc.func(fc.integer()),
      (start, specs, order) => {
        const tracker = new AckTracker(start)
        const owed = new Map<number, number>()
        let offset = start - 1
        for (const spec of specs) {
          offset += spec.gap
          tracker.register(offset, spec.acks)
          owed.set(offset, spec.acks)
        }
        const pending = [...owed.entries()].flatMap(([o, n]) => Array.from({ length: n }, () => o))
        pending.sort((a, b) => order(a) - order(b) || a - b)
        const expected = () => {
          let c = start
          for (const [o, n] of [...owed.entries()].sort((a, b) => a[0] - b[0])) {
            if (n > 0) return c
            c = o + 1
          }
          return c
        }
        assert.equal(tracker.committable, expected())
        for (const o of pending) {
          tracker.ack(o)
          owed.set(o, owed.get(o)! - 1)
          assert.equal(tracker.committable, expected())
        }
        assert.equal(tracker.inFlight, 0)
        assert.equal(tracker.committable, offset + 1)
      },
    ),
    { numRuns: 10_000 },
  )
})

test('out-of-order registration and unexpected acks are refused', () => {
  const t = new AckTracker(10)
  assert.throws(() => t.register(9, 1))
  t.register(10, 1)
  assert.throws(() => t.register(10, 1))
  assert.throws(() => t.ack(11))
  t.ack(10)
  assert.throws(() => t.ack(10))
})
