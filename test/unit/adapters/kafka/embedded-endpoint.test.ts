import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { advertiseEmbeddedKafka, findEmbeddedKafka } from '../../../../src/adapters/kafka/embedded-endpoint.js'

test('an embedded job advertises its brokers under its data dir; a dead pid or no file finds none', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fraudstream-embedded-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  assert.equal(findEmbeddedKafka(join(dir, 'absent')), undefined)
  const remove = advertiseEmbeddedKafka(join(dir, 'data'), '127.0.0.1:1234')
  assert.equal(findEmbeddedKafka(join(dir, 'data')), '127.0.0.1:1234')
  remove()
  assert.equal(existsSync(join(dir, 'data', 'embedded-kafka.json')), false)
  // A job killed without cleaning up: its pid no longer runs.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
  writeFileSync(
    join(dir, 'embedded-kafka.json'),
    JSON.stringify({ bootstrapServers: '127.0.0.1:1', pid: Number(gone), startedAt: '' }),
  )
  assert.equal(findEmbeddedKafka(dir), undefined)
})
