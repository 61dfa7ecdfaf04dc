import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { advertiseEmbeddedKafka } from '../../../src/adapters/kafka/embedded-endpoint.js'
import { adminBrokers } from '../../../src/cli/rules-admin-cli.js'
import { loadConfig } from '../../../src/config/load.js'

test('rules and lists commands write to --brokers, else kafka.brokers, else the embedded job of the data dir', (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fraudstream-admin-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const embedded = loadConfig({ overrides: { dataDir } })
  assert.throws(() => adminBrokers(embedded, undefined), {
    code: 'FS_ERR_USAGE',
    message: /no embedded job runs with data dir .*npm start.*--brokers/,
  })
  const remove = advertiseEmbeddedKafka(dataDir, '127.0.0.1:9')
  t.after(remove)
  assert.equal(adminBrokers(embedded, undefined), '127.0.0.1:9')
  assert.equal(adminBrokers(embedded, 'b:1'), 'b:1')
  assert.equal(
    adminBrokers(loadConfig({ overrides: { dataDir, 'kafka.brokers': ['k:1', 'k:2'] } }), undefined),
    'k:1,k:2',
  )
})
