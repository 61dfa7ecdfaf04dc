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

test('features reads .ndjson.gz inputs and writes the same CSV as from the plain files', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const plain = join(dataDir, 'tx.ndjson')
  await run(process.execPath, [
    BIN,
    'generate',
    '--count',
    '3000',
    '--seed',
    '4',
    '--fraud-rate',
    '0.05',
    '--out',
    plain,
  ])
  const labels = join(dataDir, 'tx.labels.ndjson')
  writeFileSync(`${plain}.gz`, gzipSync(readFileSync(plain)))
  writeFileSync(`${labels}.gz`, gzipSync(readFileSync(labels)))
  const features = async (input: string, labelsPath: string, out: string) => {
    const { stdout } = await run(process.execPath, [
      BIN,
      'features',
      ...['--input', input, '--labels', labelsPath, '--out', out, '--json'],
    ])
    return JSON.parse(stdout) as { rows: number }
  }
  const fromPlain = await features(plain, labels, join(dataDir, 'plain.csv'))
  const fromGzip = await features(`${plain}.gz`, `${labels}.gz`, join(dataDir, 'gzip.csv'))
  assert.equal(fromPlain.rows, 3000)
  assert.deepEqual(fromGzip, {
    ...fromPlain,
    out: join(dataDir, 'gzip.csv'),
    elapsed_s: (fromGzip as { elapsed_s?: number }).elapsed_s,
  })
  assert.equal(readFileSync(join(dataDir, 'gzip.csv'), 'utf8'), readFileSync(join(dataDir, 'plain.csv'), 'utf8'))
  assert.match(readFileSync(join(dataDir, 'gzip.csv'), 'utf8'), /,1\n/, 'labels were read: some rows are fraud')
})
