import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFeatures } from '../../../src/cli/feature-module.js'
import { cardFraudFeatures } from '../../../topology/features.js'

function moduleDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-features-'))
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const TWO_FEATURES = `export const features = [
  { kind: 'derived', name: 'amount', field: 'amount', description: 'the amount' },
  { kind: 'window', name: 'card_count_1h', key: 'card', aggregation: 'count', spanMs: 3600000, description: 'last hour' },
]\n`

test('features.module loads a user feature set; without it, topology/features.ts', async (t) => {
  const dir = moduleDir(t)
  writeFileSync(join(dir, 'mine.ts'), TWO_FEATURES)
  assert.deepEqual(
    (await loadFeatures({ features: { module: join(dir, 'mine.ts') } })).map((f) => f.name),
    ['amount', 'card_count_1h'],
  )
  assert.equal(await loadFeatures({ features: {} }), cardFraudFeatures)
})

test('a feature module that is missing, empty, or names a feature twice fails with FS_ERR_CONFIG_INVALID naming it', async (t) => {
  const dir = moduleDir(t)
  writeFileSync(join(dir, 'empty.ts'), 'export const features = []\n')
  writeFileSync(
    join(dir, 'twice.ts'),
    `export default [{ kind: 'derived', name: 'a', field: 'amount', description: '' }, { kind: 'derived', name: 'a', field: 'amount', description: '' }]\n`,
  )
  for (const [file, message] of [
    ['none.ts', /cannot be loaded/],
    ['empty.ts', /non-empty array/],
    ['twice.ts', /name a is used twice/],
  ] as const) {
    await assert.rejects(
      loadFeatures({ features: { module: join(dir, file) } }),
      (err: Error & { code?: string }) =>
        err.code === 'FS_ERR_CONFIG_INVALID' && message.test(err.message) && err.message.includes(file),
    )
  }
  writeFileSync(
    join(dir, 'hours.ts'),
    `export default [{ kind: 'derived', name: 'night', field: 'hour_in', from: 22, to: 22, description: '' }]\n`,
  )
  await assert.rejects(loadFeatures({ features: { module: join(dir, 'hours.ts') } }), {
    code: 'FS_ERR_CONFIG_INVALID',
    message: /derived feature night: from 22 to 22/,
  })
})

test('run --describe --features prints the graph of the user feature set', (t) => {
  const dir = moduleDir(t)
  writeFileSync(join(dir, 'mine.ts'), TWO_FEATURES)
  const out = execFileSync('node', ['bin/fraudstream.js', 'run', '--describe', '--features', join(dir, 'mine.ts')], {
    encoding: 'utf8',
  })
  assert.match(out, /^topology card-fraud \(2 features\)/)
  assert.doesNotMatch(out, /^ *\d+\. lookup/m)
})
