import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { readRegistry } from '../../../src/adapters/onnx/model-package.js'
import {
  addShadow,
  clearChallenger,
  listModels,
  promote,
  removeShadow,
  rollback,
  setChallenger,
} from '../../../src/models/registry.js'

/** A models directory with m@1 (an older contract), m@2 and m@3 (the current one `now`), m@2 champion. */
function registry(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-registry-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [version, contract] of [
    ['1', 'old'],
    ['2', 'now'],
    ['3', 'now'],
  ] as const) {
    mkdirSync(join(dir, 'm', version), { recursive: true })
    writeFileSync(join(dir, 'm', version, 'model.onnx'), '')
    writeFileSync(
      join(dir, 'm', version, 'manifest.json'),
      JSON.stringify({
        name: 'm',
        version,
        created_at: `2026-12-0${version}T00:00:00Z`,
        kind: version === '3' ? 'gradient_boosted_trees' : 'logistic_regression',
        feature_contract: { hash: contract, names: [], types: [] },
        metrics: { auc_pr: 0.5 + Number(version) / 10 },
      }),
    )
  }
  writeFileSync(join(dir, 'registry.json'), JSON.stringify({ champion: 'm@2', shadows: [] }))
  return dir
}

test('list shows every version with its role, and which ones the topology can no longer load', (t) => {
  const dir = registry(t)
  assert.deepEqual(
    listModels(dir, 'now').map((e) => [e.ref, e.kind, e.role, e.currentContract]),
    [
      ['m@3', 'gradient_boosted_trees', null, true],
      ['m@2', 'logistic_regression', 'champion', true],
      ['m@1', 'logistic_regression', null, false],
    ],
  )
})

test('promote switches the champion and keeps the replaced one for rollback; rollback goes back', (t) => {
  const dir = registry(t)
  promote(dir, 'm@3', 'now')
  assert.deepEqual(readRegistry(dir), { champion: 'm@3', shadows: [], previous: ['m@2'] })
  assert.equal(readFileSync(join(dir, 'registry.json'), 'utf8').endsWith('\n'), true)
  rollback(dir, 'now')
  assert.deepEqual(readRegistry(dir), { champion: 'm@2', shadows: [], previous: [] })
  assert.throws(() => rollback(dir, 'now'), /nothing to roll back to/)
})

test('a version on another feature contract, or one that does not exist, is never promoted', (t) => {
  const dir = registry(t)
  assert.throws(() => promote(dir, 'm@1', 'now'), { code: 'FS_ERR_MODEL_CONTRACT' })
  assert.throws(() => promote(dir, 'm@9', 'now'), { code: 'FS_ERR_MODEL_LOAD' })
  assert.deepEqual(readRegistry(dir), { champion: 'm@2', shadows: [] }, 'unchanged')
})

test('shadows and a challenger: each model plays one part, and a promotion takes a model out of its old part', (t) => {
  const dir = registry(t)
  addShadow(dir, 'm@3', 'now')
  assert.deepEqual(readRegistry(dir).shadows, ['m@3'])
  assert.equal(listModels(dir, 'now').find((e) => e.ref === 'm@3')?.role, 'shadow')
  assert.throws(() => addShadow(dir, 'm@2', 'now'), /is the champion/)
  assert.throws(() => addShadow(dir, 'm@1', 'now'), { code: 'FS_ERR_MODEL_CONTRACT' })
  setChallenger(dir, 'm@3', 10, 'now')
  assert.deepEqual(readRegistry(dir), { champion: 'm@2', shadows: [], challenger: { ref: 'm@3', percent: 10 } })
  assert.throws(() => setChallenger(dir, 'm@3', 101, 'now'), /within 0–100/)
  assert.throws(() => setChallenger(dir, 'm@2', 10, 'now'), /is the champion/)
  assert.throws(() => removeShadow(dir, 'm@3'), /not a shadow/)
  promote(dir, 'm@3', 'now')
  assert.deepEqual(readRegistry(dir), { champion: 'm@3', shadows: [], previous: ['m@2'] }, 'the challenger won')
  addShadow(dir, 'm@2', 'now')
  removeShadow(dir, 'm@2')
  setChallenger(dir, 'm@2', 50, 'now')
  clearChallenger(dir)
  assert.deepEqual(readRegistry(dir), { champion: 'm@3', shadows: [], previous: ['m@2'] })
})
