import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { useMockCluster } from '../helpers/kafka.js'
import { testConfig } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const EXAMPLE = fileURLToPath(new URL('../../examples/rules/high-amount-abroad.yaml', import.meta.url))
const cluster = useMockCluster()

/** The CLI's JSON summary and exit code (a failing command rejects with both on the error). */
async function cli(...args: string[]): Promise<{ code: number; out: Record<string, unknown> }> {
  try {
    const { stdout } = await run(process.execPath, [BIN, ...args, '--json'], {
      env: { ...process.env, FRAUDSTREAM_LOG_LEVEL: 'warn' },
    })
    return { code: 0, out: JSON.parse(stdout) as Record<string, unknown> }
  } catch (err) {
    const e = err as { code: number; stdout: string }
    return { code: e.code, out: JSON.parse(e.stdout) as Record<string, unknown> }
  }
}

test('rules put | list | delete and lists add | show | remove through the CLI; an invalid rule changes nothing', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const common = ['--brokers', cluster.bootstrapServers, '--data-dir', dataDir]
  const put = await cli('rules', 'put', EXAMPLE, ...common)
  assert.equal(put.code, 0, JSON.stringify(put.out))
  assert.deepEqual(
    (put.out.rules as { id: string }[]).map((r) => r.id),
    ['high-amount-abroad', 'very-high-amount-abroad'],
  )

  const bad = join(dataDir, 'bad.yaml')
  writeFileSync(
    bad,
    'rules:\n  - { id: fine, priority: 1, when: { field: amount, op: ">", value: 1 }, then: { reason: ok } }\n  - { id: off, priority: 1, when: { field: feature.nope, op: ">", value: 1 }, then: { reason: x } }\n',
  )
  const refused = await cli('rules', 'put', bad, ...common)
  assert.equal(refused.code, 1)
  assert.deepEqual((refused.out.error as { code: string }).code, 'FS_ERR_RULE_INVALID')
  assert.match((refused.out.error as { message: string }).message, /unknown feature "nope"/)

  const listed = await cli('rules', 'list', ...common)
  assert.deepEqual(
    (listed.out.rules as { id: string }[]).map((r) => r.id),
    ['very-high-amount-abroad', 'high-amount-abroad'],
    'by priority; "fine" was not written',
  )
  assert.match(String(listed.out.version), /^[0-9a-f]{16}$/)

  assert.equal(
    (await cli('lists', 'add', 'merchant', 'mer_9', '--list', 'watch', '--expires', '1d', ...common)).code,
    0,
  )
  const shown = await cli('lists', 'show', ...common)
  assert.deepEqual(
    (shown.out.entries as { list: string; kind: string; value: string }[]).map((e) => [e.list, e.kind, e.value]),
    [['watch', 'merchant', 'mer_9']],
  )
  assert.deepEqual((await cli('lists', 'remove', 'merchant', 'mer_9', ...common)).out.removed, ['watch:merchant:mer_9'])
  assert.equal((await cli('rules', 'delete', 'high-amount-abroad', ...common)).code, 0)
})
