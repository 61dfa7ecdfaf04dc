import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CardArena } from '../../../../src/stages/windows/card-arena.js'

test('a full-size page released by evacuation becomes the next page, with every block intact', () => {
  // 64-slot pages of 16-slot blocks: four blocks a page.
  const arena = new CardArena({ pageBits: 6 })
  const refs = Array.from({ length: 16 }, () => arena.allocate(16))
  const fill = (ref: number, id: number) => {
    for (let i = 1; i < 16; i++) arena.pageOf(ref)[arena.offsetOf(ref) + i] = id * 100 + i
  }
  refs.forEach(fill)
  const fullPages = arena.pages.filter((page) => page.length === 64)
  assert.ok(fullPages.length >= 2, 'pages grow to full size')
  // Free three blocks of the first page (not the bump page): it is the emptiest, and evacuation moves its last block out.
  const victim = arena.pageOf(refs[0]!)
  const onVictim = refs.map((ref, id) => ({ ref, id })).filter(({ ref }) => arena.pageOf(ref) === victim)
  for (const { ref } of onVictim.slice(0, 3)) arena.free(ref)
  const survivor = onVictim[3]!
  let moved = survivor.ref
  assert.ok(arena.compact((from, to) => (moved = from === survivor.ref ? to : moved), 1) === 1)
  assert.ok(!arena.pages.includes(victim), 'the victim page is released')
  for (let i = 1; i < 16; i++) assert.equal(arena.pageOf(moved)[arena.offsetOf(moved) + i], survivor.id * 100 + i)
  // Allocating past the bump page takes a page: the released one, not a new buffer.
  for (let i = 0; i < 8 && !arena.pages.includes(victim); i++) fill(arena.allocate(16), 50 + i)
  assert.ok(arena.pages.includes(victim), 'the released page is reused')
  for (let i = 1; i < 16; i++) assert.equal(arena.pageOf(moved)[arena.offsetOf(moved) + i], survivor.id * 100 + i)
})
