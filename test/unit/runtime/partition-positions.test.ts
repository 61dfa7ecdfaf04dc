import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readStartOf } from '../../../src/runtime/partition-positions.js'

test('reading starts at the snapshot, or at the log start without one, never below the log start', () => {
  assert.equal(readStartOf({ low: 0, snapshotOffset: 500 }), 500)
  assert.equal(readStartOf({ low: 100, snapshotOffset: undefined }), 100, 'no snapshot: replay the whole log')
  // Retention passed the snapshot: the broker would answer an offset below the log start with auto.offset.reset.
  assert.equal(readStartOf({ low: 800, snapshotOffset: 500 }), 800)
})
