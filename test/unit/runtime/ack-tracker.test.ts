import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AckTracker } from '../../../src/runtime/ack-tracker.js'

test('an abandoned offset and every later one leave in-flight work, and the committable offset never passes it', () => {
  const tracker = new AckTracker(10)
  tracker.register(10, 2)
  tracker.register(11, 1)
  tracker.register(12, 2)
  tracker.abandonFrom(11)
  assert.equal(tracker.inFlight, 1)
  tracker.ack(10)
  tracker.ack(10)
  assert.equal(tracker.committable, 11)
  // Late acks and later records of the abandoned range are ignored, not errors.
  tracker.ack(11)
  tracker.ack(12)
  tracker.register(13, 0)
  tracker.expect(12, 1)
  assert.deepEqual([tracker.committable, tracker.inFlight], [11, 0])
  assert.throws(() => tracker.abandonFrom(5), { code: 'FS_ERR_INTERNAL' })
})
