import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CardWindows } from '../../../../src/stages/windows/card-windows.js'

const MINUTE = 60_000

test('distinct counts stay exact past the small-array fast path (a card seen at hundreds of merchants)', () => {
  const windows = new CardWindows({ maxSpanMs: 60 * MINUTE, allowedLatenessMs: 0 })
  const values: number[] = []
  for (let i = 0; i < 300; i++) {
    // 150 distinct values, each twice, 10 s apart.
    const value = i % 150
    values.push(value)
    windows.add('card', i * 10_000, value)
  }
  const atMs = 299 * 10_000
  const spans = [MINUTE, 10 * MINUTE, 30 * MINUTE, 60 * MINUTE]
  const out = new Float64Array(spans.length)
  windows.scanDistinct('card', atMs, spans, out, 1_000)
  const expected = spans.map((span) => new Set([1_000, ...values.filter((_, i) => atMs - i * 10_000 < span)]).size)
  assert.deepEqual(Array.from(out), expected)
  assert.ok(expected.at(-1)! > 64, 'the case crosses the fast-path bound')
  windows.scanDistinct('unknown', atMs, spans, out, undefined)
  assert.deepEqual(Array.from(out), [0, 0, 0, 0])
})
