import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadLinearPackage } from '../../../../src/adapters/onnx/linear-package.js'
import { firstTierOf } from '../../../../src/models/first-tier-of.js'
import { Random } from '../../../../src/generator/random.js'
import { firstTierScores, settledByFirstTier, type FirstTier } from '../../../../src/stages/infer/first-tier.js'
import { logisticToOnnx } from '../../../../src/training/export-onnx.js'
import { trainLogistic } from '../../../../src/training/logistic-regression.js'
import { runExported } from '../../../helpers/onnx-run.js'

const names = ['amount', 'count', 'zscore']
const contract = { hash: 'h1', names }

function rowsOf(n: number, seed: number): { rows: Float32Array[]; labels: boolean[] } {
  const random = new Random(seed)
  const rows: Float32Array[] = []
  const labels: boolean[] = []
  for (let i = 0; i < n; i++) {
    const amount = random.logNormal(40, 1)
    const count = Math.floor(random.next() * 20)
    const zscore = random.normal(0, 1)
    rows.push(Float32Array.from([amount, count, zscore]))
    labels.push(random.chance(1 / (1 + Math.exp(-(-4 + Math.log1p(amount) * 0.4 + zscore)))))
  }
  return { rows, labels }
}

/** A models dir holding `name@1` of `kind`, its graph the logistic export of a model trained here. */
function modelsDir(t: { after: (fn: () => void) => void }, kind = 'logistic_regression', hash = 'h1') {
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-linear-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { rows, labels } = rowsOf(3_000, 31)
  const model = trainLogistic(rows, labels, { epochs: 100, learningRate: 0.05, l2: 1e-4, positiveWeight: 3 })
  const onnx = logisticToOnnx(model, { featureNames: names, docString: 'test' })
  mkdirSync(join(dir, 'lr', '1'), { recursive: true })
  writeFileSync(join(dir, 'lr', '1', 'model.onnx'), onnx)
  writeFileSync(
    join(dir, 'lr', '1', 'manifest.json'),
    JSON.stringify({
      name: 'lr',
      version: '1',
      kind,
      feature_contract: { hash, names, types: names.map(() => 'float32') },
      input: { name: 'features', shape: ['N', names.length] },
      output: { name: 'score', shape: ['N'] },
      thresholds: { review: 0.4, decline: 0.7 },
    }),
  )
  return { dir, onnx }
}

test('the first tier read from a logistic package scores every row as onnxruntime scores its graph', async (t) => {
  const { dir, onnx } = modelsDir(t)
  const { linear, pkg } = loadLinearPackage(dir, 'lr@1', contract)
  assert.equal(pkg.manifest.name, 'lr')
  const probe = rowsOf(2_000, 32).rows
  const tier: FirstTier = {
    model: { name: 'lr', version: '1' },
    linear,
    thresholds: { review: 0.4, decline: 0.7 },
    approveBelow: 0.05,
    declineFrom: Infinity,
  }
  const ours = firstTierScores(
    tier,
    probe.map((rows) => ({ rows, at: 0 })),
  )
  const theirs = (await runExported(onnx, probe)).score
  let maxDiff = 0
  for (let i = 0; i < probe.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - theirs[i]!))
  assert.ok(maxDiff < 1e-5, `max |diff| ${maxDiff}`)
  // The scores spread on both sides of the band's edge, so the comparison covers settled and borderline rows.
  const settled = [...ours].filter((s) => settledByFirstTier(tier, s)).length
  assert.ok(settled > 100 && settled < 1_900, `${settled} settled`)
})

test('rows read at an offset of a shared buffer score as the same rows alone', (t) => {
  const { dir } = modelsDir(t)
  const { linear } = loadLinearPackage(dir, 'lr@1', contract)
  const tier: FirstTier = {
    model: { name: 'lr', version: '1' },
    linear,
    thresholds: { review: 0.4, decline: 0.7 },
    approveBelow: 0.05,
    declineFrom: 0.9,
  }
  const rows = rowsOf(3, 33).rows
  const shared = new Float32Array(9)
  rows.forEach((row, i) => shared.set(row, i * 3))
  assert.deepEqual(
    firstTierScores(
      tier,
      rows.map((_, i) => ({ rows: shared, at: i * 3 })),
    ),
    firstTierScores(
      tier,
      rows.map((row) => ({ rows: row, at: 0 })),
    ),
  )
  assert.equal(settledByFirstTier(tier, 0.04), true)
  assert.equal(settledByFirstTier(tier, 0.05), false)
  assert.equal(settledByFirstTier(tier, 0.9), true)
})

test('a package of another kind or another feature contract is refused as a first tier', (t) => {
  assert.throws(
    () => loadLinearPackage(modelsDir(t, 'gradient_boosted_trees').dir, 'lr@1', contract),
    (err: { code?: string }) => err.code === 'FS_ERR_MODEL_LOAD',
  )
  assert.throws(
    () => loadLinearPackage(modelsDir(t, 'logistic_regression', 'other').dir, 'lr@1', contract),
    (err: { code?: string }) => err.code === 'FS_ERR_MODEL_CONTRACT',
  )
})

test('a first tier that would approve what its own model reviews is refused at start', (t) => {
  const { dir } = modelsDir(t)
  const config = (approveBelow: number) => ({
    model: { dir, reload: 'off' as const, reloadIntervalMs: 500 },
    infer: { tiers: { first: 'lr@1', approveBelow } },
  })
  assert.equal(firstTierOf(config(0.4) as never, contract)?.approveBelow, 0.4)
  assert.throws(
    () => firstTierOf(config(0.41) as never, contract),
    (err: { code?: string; message: string }) =>
      err.code === 'FS_ERR_CONFIG_INVALID' && /review threshold/.test(err.message),
  )
})
