import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { testConfig } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20 })
}

interface TrainJson {
  ok: boolean
  ref: string
  dir: string
  source: { kind: string; labels_used: Record<string, number> }
  report: { thresholds: { chosen: { review: number; decline: number } } }
}

test('train --transactions/--labels on .ndjson.gz writes a package with metrics.json and a card of every evaluation section, labels cut at --label-cutoff', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const plain = join(dataDir, 'tx.ndjson')
  // Few customers: some ten days of event time, so labels (reported days later) straddle the cutoff.
  await cli(
    'generate',
    ...['--count', '8000', '--seed', '9', '--fraud-rate', '0.03', '--customers', '300', '--merchants', '50'],
    ...['--out', plain, '--json'],
  )
  const txPath = join(dataDir, 'tx.ndjson.gz')
  const labelsPath = join(dataDir, 'tx.labels.ndjson.gz')
  writeFileSync(txPath, gzipSync(readFileSync(plain)))
  writeFileSync(labelsPath, gzipSync(readFileSync(join(dataDir, 'tx.labels.ndjson'))))

  // The oracle, from the files: each transaction's latest label reported by the cutoff, the event time of the
  // transaction at 80 %; without one, legitimate if a day older than the cutoff, else left out.
  const transactions = readFileSync(plain, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { transaction_id: string; event_time: string })
  const labels = readFileSync(join(dataDir, 'tx.labels.ndjson'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { transaction_id: string; is_fraud: boolean; reported_at: string })
  const eventTimes = transactions.map((tx) => Date.parse(tx.event_time)).sort((a, b) => a - b)
  const cutoffMs = eventTimes[Math.floor(eventTimes.length * 0.8)]!
  const DAY_MS = 24 * 60 * 60 * 1000
  const known = new Map<string, { isFraud: boolean; atMs: number }>()
  for (const l of labels) {
    const atMs = Date.parse(l.reported_at)
    const seen = known.get(l.transaction_id)
    if (atMs <= cutoffMs && (!seen || seen.atMs <= atMs)) known.set(l.transaction_id, { isFraud: l.is_fraud, atMs })
  }
  const expected = { rows_read: 0, fraud: 0, labelled_legitimate: 0, unlabelled_legitimate: 0, unlabelled_dropped: 0 }
  for (const tx of transactions) {
    expected.rows_read++
    const label = known.get(tx.transaction_id)
    if (label) expected[label.isFraud ? 'fraud' : 'labelled_legitimate']++
    else expected[Date.parse(tx.event_time) <= cutoffMs - DAY_MS ? 'unlabelled_legitimate' : 'unlabelled_dropped']++
  }
  assert.ok(
    expected.unlabelled_dropped > 0 && expected.fraud > 20 && labels.some((l) => Date.parse(l.reported_at) > cutoffMs),
    JSON.stringify(expected),
  )

  const modelsDir = join(dataDir, 'models')
  const common = ['--transactions', txPath, '--labels', labelsPath, '--models-dir', modelsDir, '--epochs', '30']
  const { stdout } = await cli(
    'train',
    ...common,
    '--label-cutoff',
    new Date(cutoffMs).toISOString(),
    '--maturity-days',
    '1',
    '--precision-at',
    '10,50',
    '--json',
  )
  const result = JSON.parse(stdout) as TrainJson
  assert.equal(result.ok, true)
  assert.equal(result.source.kind, 'file')
  assert.deepEqual(result.source.labels_used, expected)

  const metrics = JSON.parse(readFileSync(join(result.dir, 'metrics.json'), 'utf8')) as Record<string, unknown>
  for (const key of ['data', 'split', 'test', 'thresholds', 'at_thresholds', 'onnx_max_abs_diff'])
    assert.ok(key in metrics, `metrics.json has ${key}`)
  const test = metrics['test'] as Record<string, unknown>
  for (const key of ['auc_roc', 'auc_pr', 'recall_at_1pct_fpr', 'recall_at_2pct_fpr'])
    assert.equal(typeof test[key], 'number', key)
  assert.deepEqual(Object.keys(test['precision_at_k'] as object), ['10', '50'])
  assert.equal((test['card_precision'] as { k: number }).k, 100)
  const thresholds = metrics['thresholds'] as { chosen: unknown; seed: unknown; confusion: unknown; cost: unknown }
  assert.deepEqual(thresholds.seed, { review: 0.4, decline: 0.7 })
  const manifest = JSON.parse(readFileSync(join(result.dir, 'manifest.json'), 'utf8')) as { thresholds: unknown }
  assert.deepEqual(manifest.thresholds, thresholds.chosen, 'the manifest carries the cost-chosen thresholds')

  const card = readFileSync(join(result.dir, 'card.md'), 'utf8')
  for (const section of [
    '## Data and split',
    '## Test metrics',
    '## Card precision@100 per day',
    '## Confusion matrix',
    '## Cost-based thresholds',
    '## Limits',
  ])
    assert.ok(card.includes(`\n${section}`), `card.md has "${section}"`)
  assert.match(card, /\| AUC-PR \(average precision\) \| 0\.\d{4} \|/)
  assert.match(card, /\| recall at 1 % FPR \| /)
  assert.match(card, /\| precision@50 \| /)
  assert.match(card, /\| fraud \| [\d,]+ \| [\d,]+ \| [\d,]+ \|/)
  assert.match(card, /\| seed 0\.4 \/ 0\.7 \| validation \| /)
  assert.ok(card.includes(`Labels as known at ${new Date(cutoffMs).toISOString()}`))

  // The person's view, and the configured thresholds kept as they are.
  const human = await cli('train', ...common, '--keep-thresholds', '--card-k', '5')
  assert.match(human.stdout, /^trained card-fraud-lr@2 → /)
  assert.match(human.stdout, /\ntest metric +value\n/)
  assert.match(human.stdout, /\ncard precision@5 per day \(mean of \d+ days\) +0\.\d{4}\n/)
  assert.match(human.stdout, /\nthresholds written to the manifest: review ≥ 0\.4, decline ≥ 0\.7 \(seed thresholds/)
  const kept = JSON.parse(readFileSync(join(modelsDir, 'card-fraud-lr', '2', 'manifest.json'), 'utf8')) as {
    thresholds: unknown
  }
  assert.deepEqual(kept.thresholds, { review: 0.4, decline: 0.7 })
})

test('train names a source given half or twice as a usage error', async () => {
  const usage = (args: string[], pattern: RegExp) =>
    assert.rejects(
      cli('train', ...args),
      (err: { code: number; stderr: string }) =>
        err.code === 1 && pattern.test(err.stderr) && /\[FS_ERR_USAGE\]\n$/.test(err.stderr),
    )
  await usage(['--labels', 'l.ndjson'], /--labels goes with --transactions <file>/)
  await usage(['--from', '2026-01-05'], /add --from-clickhouse/)
  await usage(['--from-clickhouse'], /--from-clickhouse needs --from/)
  await usage(['--from-clickhouse', '--from', '2026-01-05', '--transactions', 'tx.ndjson'], /two sources/)
  await usage(['--label-cutoff', 'yesterday'], /--label-cutoff must be an ISO-8601 time/)
  await usage(['--transactions', 'missing.ndjson.gz'], /--transactions missing\.ndjson\.gz cannot be read/)
})
