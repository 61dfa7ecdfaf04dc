import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Transaction } from '../../../../src/core/transaction-v1.js'
import { CardWindows } from '../../../../src/stages/windows/card-windows.js'
import { eventLayoutOf, GroupScan, scanGroups } from '../../../../src/stages/windows/window-scan.js'

const MINUTE = 60_000

test('distinct counts stay exact past the small-array fast path (a card seen at hundreds of merchants)', () => {
  const spans = [MINUTE, 10 * MINUTE, 30 * MINUTE, 60 * MINUTE]
  const group = { id: 'distinct', key: 'card' as const, filter: undefined, field: 'merchant_id' as const, delayMs: 0, spans, horizonMs: 60 * MINUTE }
  const layout = eventLayoutOf([group])
  assert.equal(layout.valuesPerEvent, 2, 'amount and the merchant hash')
  const windows = new CardWindows({ maxSpanMs: 60 * MINUTE, allowedLatenessMs: 0, valuesPerEvent: layout.valuesPerEvent })
  const values: number[] = []
  for (let i = 0; i < 300; i++) {
    // 150 distinct values, each twice, 10 s apart.
    const value = i % 150
    values.push(value)
    windows.add('card', i * 10_000, [1, value])
  }
  const atMs = 299 * 10_000
  const view = new GroupScan(group, layout)
  const tx = { card_id: 'card', eventTimeMs: atMs } as Transaction
  scanGroups(windows.history('card'), windows.stride, tx, Float64Array.of(1, 1_000), [view])
  const expected = spans.map((span) => new Set([1_000, ...values.filter((_, i) => atMs - i * 10_000 < span)]).size)
  assert.deepEqual(Array.from(view.distinct), expected)
  assert.ok(expected.at(-1)! > 64, 'the case crosses the fast-path bound')
  scanGroups(windows.history('unknown'), windows.stride, { card_id: 'unknown', eventTimeMs: atMs } as Transaction, Float64Array.of(1, NaN), [view])
  assert.deepEqual(Array.from(view.distinct), [0, 0, 0, 0], 'a transaction without the field does not count itself')
})
