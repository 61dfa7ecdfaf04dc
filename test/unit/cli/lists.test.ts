import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseExpiry } from '../../../src/cli/lists.js'

test('--expires takes a duration from now or a time', () => {
  const now = Date.UTC(2026, 0, 5)
  assert.equal(parseExpiry('30m', now), now + 30 * 60_000)
  assert.equal(parseExpiry('12h', now), now + 12 * 3_600_000)
  assert.equal(parseExpiry('7d', now), now + 7 * 86_400_000)
  assert.equal(parseExpiry('2026-02-01', now), Date.UTC(2026, 1, 1))
  assert.throws(() => parseExpiry('soon', now), { code: 'FS_ERR_USAGE', message: /--expires/ })
})
