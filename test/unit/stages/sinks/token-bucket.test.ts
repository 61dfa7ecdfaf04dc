import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TokenBucket } from '../../../../src/stages/sinks/token-bucket.js'
import { alertKindOf } from '../../../../src/stages/sinks/alerts-sink.js'

test('a token bucket grants its burst at once, then refills at its rate without exceeding the burst', () => {
  const bucket = new TokenBucket(2, 2, 0)
  assert.deepEqual([bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, false])
  assert.equal(bucket.take(499), false)
  assert.equal(bucket.take(500), true)
  // Ten seconds idle saves up two tokens, not twenty.
  assert.deepEqual([bucket.take(10_500), bucket.take(10_500), bucket.take(10_500)], [true, true, false])
})

test('alerts-node outcomes map to fraudstream_alerts_total kind and severity, digests records to none', () => {
  assert.deepEqual(alertKindOf('immediate_critical'), { kind: 'immediate', severity: 'critical' })
  assert.deepEqual(alertKindOf('digest_high'), { kind: 'digest', severity: 'high' })
  assert.deepEqual(alertKindOf('digest_low'), { kind: 'digest', severity: 'low' })
  assert.equal(alertKindOf('digests'), undefined)
  assert.equal(alertKindOf('immediate_bogus'), undefined)
  assert.equal(alertKindOf('digest_toString'), undefined)
})
