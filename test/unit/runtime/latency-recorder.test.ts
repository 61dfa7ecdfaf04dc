import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LatencyRecorder } from '../../../src/runtime/latency-recorder.js'

test('the latency recorder keeps every sample: percentiles within 0.1 %, the tail and the maximum exact enough', () => {
  const recorder = new LatencyRecorder()
  for (let ms = 1; ms <= 100_000; ms++) recorder.record(ms / 100) // 0.01 ms … 1,000 ms, uniform
  recorder.record(2_500) // one outlier a reservoir would likely drop
  assert.equal(recorder.count, 100_001)
  const s = recorder.summary()
  assert.ok(Math.abs(s.p50 - 500) / 500 < 0.001, `p50 ${s.p50}`)
  assert.ok(Math.abs(s.p99 - 990) / 990 < 0.001, `p99 ${s.p99}`)
  assert.ok(s.p999 <= s.max && Math.abs(s.p999 - 999) / 999 < 0.002, `p99.9 ${s.p999}`)
  assert.ok(Math.abs(s.max - 2_500) / 2_500 < 0.001, `max ${s.max}`)
  assert.deepEqual(new LatencyRecorder().summary(), { p50: 0, p99: 0, p999: 0, max: 0 })
})

test('a reset recorder reads as new, and counts only what comes after', () => {
  const recorder = new LatencyRecorder()
  recorder.record(900)
  recorder.reset()
  assert.deepEqual(recorder.summary(), { p50: 0, p99: 0, p999: 0, max: 0 })
  recorder.record(2)
  assert.equal(recorder.count, 1)
  assert.equal(recorder.summary().max, 2)
})
