import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertContract, loadModelPackage } from '../../../src/adapters/onnx/model-package.js'
import { featureContractHash } from '../../../src/stages/features/feature-definition.js'
import { trainModel } from '../../../src/training/train.js'
import { loadConfig } from '../../../src/config/load.js'
import { cardFraudFeatures } from '../../../topology/features.js'

test('training writes a complete model package whose ONNX export scores like the TypeScript model', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-models-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const options = {
    modelsDir: dir,
    name: 'm',
    seed: 2,
    transactions: 20_000,
    fraudRate: 0.02,
    epochs: 60,
    positiveWeight: 5,
    thresholds: { review: 0.4, decline: 0.7 },
    config: loadConfig({ overrides: { environment: 'test' } }),
    promote: false,
  }
  const first = await trainModel(options)
  assert.equal(first.ref, 'm@1')
  assert.equal(first.promoted, true, 'the first model becomes champion')
  assert.ok(first.onnxMaxAbsDiff < 1e-5, `ONNX differs from TypeScript by ${first.onnxMaxAbsDiff}`)
  assert.ok(first.evaluation.auc_roc > 0.8, `holdout ROC AUC ${first.evaluation.auc_roc}`)
  const second = await trainModel(options)
  assert.equal(second.ref, 'm@2')
  assert.equal(second.promoted, false)
  const pkg = loadModelPackage(dir)
  assert.equal(`${pkg.manifest.name}@${pkg.manifest.version}`, 'm@1', 'the registry still names the champion')
  assert.equal(loadModelPackage(dir, 'm@2').manifest.parent_version, '1')
  assert.deepEqual(pkg.manifest.explanation, { output: 'contributions', method: 'linear', space: 'margin' })
  assert.match(readFileSync(join(dir, 'm', '1', 'card.md'), 'utf8'), /AUC-PR/)
})

test('the committed champion model was trained on the current feature contract', () => {
  const modelsDir = fileURLToPath(new URL('../../../models/', import.meta.url))
  const pkg = loadModelPackage(modelsDir)
  assert.doesNotThrow(
    () =>
      assertContract(
        pkg.manifest,
        featureContractHash(cardFraudFeatures),
        cardFraudFeatures.map((f) => f.name),
      ),
    'retrain with `npx fraudstream train --promote` after changing topology/features.ts',
  )
  assert.deepEqual(
    pkg.manifest.feature_contract.names,
    cardFraudFeatures.map((f) => f.name),
  )
})

test('a model bound to another feature contract is refused with FS_ERR_MODEL_CONTRACT', () => {
  const modelsDir = fileURLToPath(new URL('../../../models/', import.meta.url))
  const pkg = loadModelPackage(modelsDir)
  assert.throws(
    () => assertContract(pkg.manifest, 'deadbeefdeadbeef', []),
    (err: { code?: string }) => err.code === 'FS_ERR_MODEL_CONTRACT',
  )
})

test('--kind gbdt packages trees whose ONNX export the job can load, ranking better than the logistic baseline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-models-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const options = {
    modelsDir: dir,
    name: 'm',
    seed: 3,
    transactions: 30_000,
    fraudRate: 0.02,
    epochs: 100,
    positiveWeight: 5,
    thresholds: { review: 0.4, decline: 0.7 },
    config: loadConfig({ overrides: { environment: 'test' } }),
    promote: false,
  }
  const logistic = await trainModel(options)
  const trees = await trainModel({ ...options, kind: 'gbdt', gbdt: { rounds: 80, maxDepth: 4 } })
  assert.ok(trees.onnxMaxAbsDiff < 1e-5, `ONNX differs from TypeScript by ${trees.onnxMaxAbsDiff}`)
  const manifest = loadModelPackage(dir, trees.ref).manifest
  assert.equal(manifest.kind, 'gradient_boosted_trees')
  assert.deepEqual(manifest.explanation, { output: 'contributions', method: 'path', space: 'margin' })
  assert.equal(manifest.training['validation_rows'], 3_000, 'the 10 % before the test set validates')
  assert.ok(
    trees.evaluation.auc_pr > logistic.evaluation.auc_pr,
    `trees ${trees.evaluation.auc_pr.toFixed(3)} vs logistic ${logistic.evaluation.auc_pr.toFixed(3)} (AUC-PR)`,
  )
})
