import assert from 'node:assert/strict'
import { test } from 'node:test'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, scrubSecretsFromEnv } from '../../../src/config/load.js'

test('defaults are the embedded mode', () => {
  const config = loadConfig()
  assert.deepEqual(config.kafka.brokers, [])
  assert.equal(config.clickhouse.url, undefined)
  assert.equal(config.dataDir, './data')
  assert.deepEqual(config.thresholds, { review: 0.4, decline: 0.7 })
  assert.ok(Object.isFrozen(config.kafka))
})

test('file < env < overrides', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-config-'))
  const file = join(dir, 'c.yaml')
  writeFileSync(file, 'kafka:\n  groupId: from-file\n  brokers: [a:9092]\ninfer:\n  maxRecords: 64\n')
  const config = loadConfig({ file, env: { FRAUDSTREAM_KAFKA_BROKERS: 'b:9092, c:9092', FRAUDSTREAM_HTTP_PORT: '9999' }, overrides: { 'infer.maxRecords': 32 } })
  assert.equal(config.kafka.groupId, 'from-file')
  assert.deepEqual(config.kafka.brokers, ['b:9092', 'c:9092'])
  assert.equal(config.http.port, 9999)
  assert.equal(config.infer.maxRecords, 32)
})

test('every invalid setting is reported with its path; cross-field checks once the fields are valid', () => {
  assert.throws(
    () => loadConfig({ env: { FRAUDSTREAM_HTTP_PORT: 'abc', FRAUDSTREAM_CLICKHOUSE_URL: 'not a url' } }),
    (err: Error & { code?: string }) => err.code === 'FS_ERR_CONFIG_INVALID' && /http\.port/.test(err.message) && /clickhouse\.url/.test(err.message),
  )
  assert.throws(() => loadConfig({ overrides: { 'thresholds.review': 0.9, 'thresholds.decline': 0.5 } }), /thresholds\.review must not exceed/)
})

test('production refuses the embedded mock cluster and test.mock.* properties', () => {
  assert.throws(() => loadConfig({ env: { FRAUDSTREAM_ENVIRONMENT: 'production' } }), /kafka\.brokers/)
  assert.throws(() => loadConfig({ env: { FRAUDSTREAM_ENVIRONMENT: 'production', FRAUDSTREAM_KAFKA_BROKERS: 'k:9092' }, overrides: { 'kafka.clientProperties': { 'test.mock.num.brokers': 3 } } }), /test\.mock/)
})

test('secrets are removed from the environment after loading', () => {
  const env: NodeJS.ProcessEnv = { FRAUDSTREAM_CLICKHOUSE_PASSWORD: 's3cret', FRAUDSTREAM_DATA_DIR: '/x' }
  const config = loadConfig({ env })
  scrubSecretsFromEnv(env)
  assert.equal(config.clickhouse.password, 's3cret')
  assert.deepEqual(Object.keys(env), ['FRAUDSTREAM_DATA_DIR'])
})
