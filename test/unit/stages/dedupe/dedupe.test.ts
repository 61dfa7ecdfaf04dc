import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Dedupe } from '../../../../src/stages/dedupe/dedupe.js'

test('an id seen within the horizon is a duplicate; after the horizon it is forgotten', () => {
  const d = new Dedupe({ horizonMs: 10, maxEntries: 100 })
  assert.equal(d.isDuplicate('a', 0), false)
  assert.equal(d.isDuplicate('b', 5), false)
  assert.equal(d.isDuplicate('a', 9), true)
  assert.equal(d.isDuplicate('c', 11), false)
  assert.equal(d.isDuplicate('a', 12), false, 'a@0 expired when the newest event passed 10')
})

test('maxEntries bounds memory and counts early evictions', () => {
  const d = new Dedupe({ horizonMs: 1e9, maxEntries: 3 })
  for (const id of ['a', 'b', 'c', 'd']) d.isDuplicate(id, 0)
  assert.equal(d.size, 3)
  assert.equal(d.evictedEarly, 1)
  assert.equal(d.isDuplicate('a', 0), false, 'the oldest id was forgotten first')
  assert.equal(d.isDuplicate('d', 0), true)
})
