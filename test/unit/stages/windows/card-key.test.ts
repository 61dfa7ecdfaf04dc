import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { CardWindows } from '../../../../src/stages/windows/card-windows.js'
import {
  CardKey,
  MAX_ID_LENGTH,
  readStoredId,
  storedIdHash,
  storedIdSlots,
} from '../../../../src/stages/windows/card-key.js'

/** Latin-1 and wider ids, of every length around the word (3 units) and slot (2 words) boundaries. */
const ids = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 20 }).map((s) => s + '\u00ff'),
)

test('a stored card id reads back, rehashes to its hash and matches only itself', () => {
  // One key encodes every id in turn, as warm's keys do: nothing of a longer or wider id before may remain.
  const key = new CardKey()
  fc.assert(
    fc.property(ids, ids, (id, other) => {
      key.set(id)
      const page = new Float64Array(64).fill(-1)
      key.write(page, 3)
      assert.equal(storedIdSlots(page, 3), key.storedSlots)
      assert.equal(readStoredId(page, 3), id)
      assert.equal(storedIdHash(page, 3), key.hash)
      assert.ok(key.matches(page, 3))
      const otherKey = new CardKey()
      otherKey.set(other)
      assert.equal(otherKey.matches(page, 3), other === id)
    }),
  )
})

test('ids that differ only by trailing zero units or width are different keys', () => {
  const key = new CardKey()
  const page = new Float64Array(16)
  key.set('ab')
  key.write(page, 0)
  for (const other of ['ab\u0000', 'ab\u0000\u0000\u0000', 'a', 'ab\u0100'.slice(0, 2) + '\u0000']) {
    const otherKey = new CardKey()
    otherKey.set(other)
    assert.equal(otherKey.matches(page, 0), false, JSON.stringify(other))
  }
})

test('the hash spreads sequential ids over the low bits the table indexes by', () => {
  const buckets = new Uint32Array(1024)
  const key = new CardKey()
  for (let i = 0; i < 102_400; i++) {
    key.set(`card_${i.toString(36)}`)
    buckets[key.hash & 1023]!++
  }
  // 100 expected per bucket: a poor mix leaves buckets empty or several times full.
  assert.ok(
    Math.min(...buckets) > 50 && Math.max(...buckets) < 160,
    `bucket range ${Math.min(...buckets)}–${Math.max(...buckets)}`,
  )
})

test('an id longer than the stored form allows is refused, every time, and leaves the key as it was', () => {
  const key = new CardKey()
  key.set('card-1')
  const before = { hash: key.hash, header: key.header }
  const tooLong = 'x'.repeat(MAX_ID_LENGTH + 1)
  assert.throws(() => key.set(tooLong), { code: 'FS_ERR_INTERNAL' })
  assert.throws(() => key.set(tooLong), { code: 'FS_ERR_INTERNAL' }, 'refused again, not taken for the id encoded last')
  assert.deepEqual({ hash: key.hash, header: key.header, id: key.id }, { ...before, id: 'card-1' })
  new CardKey().set('\u0100'.repeat(MAX_ID_LENGTH))
  // Through the card table: a warm call refused for one id leaves no key that a later lookup could mistake.
  const windows = new CardWindows({ horizonMs: 60_000, allowedLatenessMs: 0 })
  windows.add('a', 0, [1])
  windows.add('b', 0, [2])
  windows.warm([{ card_id: 'a' }, { card_id: 'b' }])
  assert.throws(() => windows.warm([{ card_id: 'a' }, { card_id: tooLong }]), { code: 'FS_ERR_INTERNAL' })
  assert.throws(() => windows.warm([{ card_id: 'a' }, { card_id: tooLong }]), { code: 'FS_ERR_INTERNAL' })
  assert.throws(() => windows.add(tooLong, 0, [3]), { code: 'FS_ERR_INTERNAL' })
  assert.deepEqual(windows.logOf('b'), [4, 0, 0, 2])
})
