import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { CardArena } from '../../src/stages/windows/card-arena.js'

test('arena blocks keep their contents through reuse and evacuation, and every move is reported', () => {
  let totalMoves = 0
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant('allocate' as const),
            slots: fc.oneof(
              { arbitrary: fc.integer({ min: 1, max: 24 }), weight: 9 },
              { arbitrary: fc.integer({ min: 65, max: 90 }), weight: 1 },
            ),
          }),
          fc.record({ op: fc.constant('free' as const), pick: fc.nat() }),
          fc.constant({ op: 'compact' as const }),
        ),
        { minLength: 50, maxLength: 300 },
      ),
      (ops) => {
        // 64-slot pages: blocks above 64 slots get pages of their own, and pages fill and evacuate often.
        const arena = new CardArena({ pageBits: 6 })
        const live = new Map<number, { ref: number; slots: number }>()
        let nextId = 1
        let moves = 0
        const check = (id: number) => {
          const { ref, slots } = live.get(id)!
          const page = arena.pageOf(ref)
          const offset = arena.offsetOf(ref)
          assert.ok(page[offset]! >= slots, 'capacity in slot 0')
          for (let i = 1; i < page[offset]!; i++)
            assert.equal(page[offset + i], id * 1_000 + i, `block ${id} slot ${i}`)
        }
        for (const op of ops) {
          if (op.op === 'allocate') {
            const ref = arena.allocate(op.slots)
            const page = arena.pageOf(ref)
            // The whole capacity, not only what was asked: a move must carry every slot.
            for (let i = 1; i < page[arena.offsetOf(ref)]!; i++) page[arena.offsetOf(ref) + i] = nextId * 1_000 + i
            for (const other of live.values()) assert.notEqual(other.ref, ref, 'a live block is never handed out again')
            live.set(nextId++, { ref, slots: op.slots })
          } else if (op.op === 'free' && live.size > 0) {
            const id = [...live.keys()][op.pick % live.size]!
            arena.free(live.get(id)!.ref)
            live.delete(id)
          } else if (op.op === 'compact') {
            const byRef = new Map([...live].map(([id, block]) => [block.ref, id]))
            arena.compact((from, to) => {
              const id = byRef.get(from)
              assert.ok(id !== undefined, `moved block ${from} was live`)
              live.get(id)!.ref = to
              // A page filled by moves can itself be evacuated later in the same call.
              byRef.delete(from)
              byRef.set(to, id)
              moves++
            }, Infinity)
            assert.ok(arena.liveSlots <= arena.pageSlots)
          }
          for (const id of live.keys()) check(id)
        }
        const liveSlots = [...live.values()].reduce(
          (total, { ref }) => total + arena.pageOf(ref)[arena.offsetOf(ref)]!,
          0,
        )
        assert.equal(arena.liveSlots, liveSlots)
        totalMoves += moves
      },
    ),
    { numRuns: 300 },
  )
  assert.ok(totalMoves > 100, `evacuations happened (${totalMoves} blocks moved)`)
})
