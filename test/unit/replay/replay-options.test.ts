import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseSpeed } from '../../../src/cli/replay.js'
import { loadConfig } from '../../../src/config/load.js'
import { parseDumpLine } from '../../../src/offline/dump-line.js'
import { checkRunId, generateRunId } from '../../../src/replay/replay.js'
import { warmUpHorizonMs } from '../../../src/replay/warm-up.js'
import { cardFraudFeatures } from '../../../topology/features.js'

test('run ids: generated ones are sortable and distinct; live and malformed ones are refused', () => {
  const id = generateRunId(Date.UTC(2026, 11, 7, 14, 5, 9))
  assert.match(id, /^replay-20261207140509-[0-9a-f]{4}$/)
  checkRunId(id)
  assert.throws(() => checkRunId('live'), /live/)
  assert.throws(() => checkRunId('a b'), /run-id/)
  assert.throws(() => checkRunId(''), /run-id/)
})

test('--speed: max, or a factor with or without x', () => {
  assert.equal(parseSpeed('max'), Infinity)
  assert.equal(parseSpeed('10x'), 10)
  assert.equal(parseSpeed('0.5'), 0.5)
  assert.throws(() => parseSpeed('fast'), /--speed/)
  assert.throws(() => parseSpeed('0x'), /--speed/)
})

test('a kcat envelope gives its offset; a bare value has none', () => {
  const line = Buffer.from(JSON.stringify({ topic: 't', partition: 2, offset: 41, ts: 5, payload: '{}' }))
  assert.deepEqual(parseDumpLine(line), { value: Buffer.from('{}'), partition: 2, offset: 41, timestampMs: 5 })
  assert.equal(parseDumpLine(Buffer.from('{"a":1}')).offset, undefined)
})

test('the warm-up covers the longest history a feature reads, plus the lateness', () => {
  const config = loadConfig({ overrides: { environment: 'test' } })
  const horizon = warmUpHorizonMs(config, cardFraudFeatures)
  const longest = Math.max(
    ...cardFraudFeatures.map((f) =>
      f.kind === 'lookup' ? f.delayMs + f.spanMs : f.kind === 'window' ? f.spanMs + (f.delayMs ?? 0) : 0,
    ),
  )
  assert.ok(horizon >= longest + config.windows.allowedLatenessMs, `${horizon} covers ${longest}`)
})
