import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ENV_MAP, loadConfig, scrubSecretsFromEnv } from '../../../src/config/load.js'

/** Writes `body` to a fresh file named `name`, removed after the test. */
function configFile(t: TestContext, name: string, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, name)
  writeFileSync(file, body)
  return file
}

/** An assert.throws predicate: FS_ERR_CONFIG_INVALID whose message matches every pattern. */
const configInvalid =
  (...patterns: RegExp[]) =>
  (err: Error & { code?: string }) => {
    assert.equal(err.code, 'FS_ERR_CONFIG_INVALID')
    for (const p of patterns) assert.match(err.message, p)
    return true
  }

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
  const config = loadConfig({
    file,
    env: { FRAUDSTREAM_KAFKA_BROKERS: 'b:9092, c:9092', FRAUDSTREAM_HTTP_PORT: '9999' },
    overrides: { 'infer.maxRecords': 32 },
  })
  assert.equal(config.kafka.groupId, 'from-file')
  assert.deepEqual(config.kafka.brokers, ['b:9092', 'c:9092'])
  assert.equal(config.http.port, 9999)
  assert.equal(config.infer.maxRecords, 32)
})

test('every invalid setting is reported with its path; cross-field checks once the fields are valid', () => {
  assert.throws(
    () => loadConfig({ env: { FRAUDSTREAM_HTTP_PORT: 'abc', FRAUDSTREAM_CLICKHOUSE_URL: 'not a url' } }),
    (err: Error & { code?: string }) =>
      err.code === 'FS_ERR_CONFIG_INVALID' && /http\.port/.test(err.message) && /clickhouse\.url/.test(err.message),
  )
  assert.throws(
    () => loadConfig({ overrides: { 'thresholds.review': 0.9, 'thresholds.decline': 0.5 } }),
    /thresholds\.review must not exceed/,
  )
})

test('production refuses the embedded mock cluster and test.mock.* properties', () => {
  assert.throws(() => loadConfig({ env: { FRAUDSTREAM_ENVIRONMENT: 'production' } }), /kafka\.brokers/)
  assert.throws(
    () =>
      loadConfig({
        env: { FRAUDSTREAM_ENVIRONMENT: 'production', FRAUDSTREAM_KAFKA_BROKERS: 'k:9092' },
        overrides: { 'kafka.clientProperties': { 'test.mock.num.brokers': 3 } },
      }),
    /test\.mock/,
  )
})

test('secrets are removed from the environment after loading', () => {
  const env: NodeJS.ProcessEnv = { FRAUDSTREAM_CLICKHOUSE_PASSWORD: 's3cret', FRAUDSTREAM_DATA_DIR: '/x' }
  const config = loadConfig({ env })
  scrubSecretsFromEnv(env)
  assert.equal(config.clickhouse.password, 's3cret')
  assert.deepEqual(Object.keys(env), ['FRAUDSTREAM_DATA_DIR'])
})

test('FRAUDSTREAM_HTTP_ENABLED=false turns HTTP off: boolean variables read true / false / 1 / 0 and nothing else', () => {
  for (const [text, enabled] of [
    ['false', false],
    ['0', false],
    ['FALSE', false],
    ['true', true],
    ['1', true],
    [' True ', true],
  ] as const) {
    assert.equal(
      loadConfig({ env: { FRAUDSTREAM_HTTP_ENABLED: text } }).http.enabled,
      enabled,
      `FRAUDSTREAM_HTTP_ENABLED=${text}`,
    )
  }
  for (const text of ['no', 'off', 'yes', 'flase', '2']) {
    assert.throws(
      () => loadConfig({ env: { FRAUDSTREAM_HTTP_ENABLED: text } }),
      configInvalid(/http\.enabled \(FRAUDSTREAM_HTTP_ENABLED\): must be true or false/, new RegExp(`got "${text}"`)),
    )
  }
})

test('every boolean setting with a variable is parsed strictly, not coerced', () => {
  const defaults = loadConfig() as unknown as Record<string, unknown>
  const valueAt = (path: readonly string[]) =>
    path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], defaults)
  const booleans = Object.entries(ENV_MAP).filter(([, target]) => typeof valueAt(target.path) === 'boolean')
  assert.ok(booleans.length > 0)
  for (const [name, target] of booleans) assert.equal(target.boolean, true, `${name} sets a boolean`)
})

test('a boolean in a config file must be a boolean, not a string', (t) => {
  assert.equal(loadConfig({ file: configFile(t, 'c.yaml', 'http:\n  enabled: false\n') }).http.enabled, false)
  assert.throws(
    () => loadConfig({ file: configFile(t, 'c.json', '{ "http": { "enabled": "false" } }') }),
    configInvalid(/http\.enabled: .*expected boolean/),
  )
})

test('a bad value from a variable names the variable', () => {
  assert.throws(
    () => loadConfig({ env: { FRAUDSTREAM_HTTP_PORT: 'abc' } }),
    configInvalid(/http\.port \(FRAUDSTREAM_HTTP_PORT\):/),
  )
  // A flag that overrides the variable is what was refused, so the variable is not named.
  assert.throws(
    () => loadConfig({ env: { FRAUDSTREAM_HTTP_PORT: '1' }, overrides: { 'http.port': 'abc' } }),
    (err: Error) => /http\.port:/.test(err.message) && !/FRAUDSTREAM_HTTP_PORT/.test(err.message),
  )
})

test('a malformed YAML config file is refused with its name, line and column', (t) => {
  const file = configFile(t, 'fraudstream.yaml', 'kafka:\n  groupId: a\n brokers: [b:9092]\n')
  assert.throws(
    () => loadConfig({ file }),
    configInvalid(new RegExp(`^config file ${file} is not valid YAML: line 3, column 1: `)),
  )
  const duplicate = configFile(t, 'fraudstream.yml', 'http:\n  port: 1\nhttp:\n  port: 2\n')
  assert.throws(
    () => loadConfig({ file: duplicate }),
    configInvalid(/is not valid YAML: line 3, column 1: Map keys must be unique/),
  )
})

test('a malformed JSON config file is refused with its name, line and column', (t) => {
  const file = configFile(t, 'fraudstream.json', '{\n  "http": {\n    "port": 9464,\n  }\n}\n')
  assert.throws(
    () => loadConfig({ file }),
    configInvalid(new RegExp(`^config file ${file} is not valid JSON: line 4, column 3: `)),
  )
  const truncated = configFile(t, 'truncated.json', '{ "http": ')
  assert.throws(
    () => loadConfig({ file: truncated }),
    configInvalid(/truncated\.json is not valid JSON: .*end of JSON input/),
  )
})

test('a config file must hold a mapping; an empty one is the defaults', (t) => {
  assert.throws(
    () => loadConfig({ file: configFile(t, 'list.yaml', '- kafka\n- http\n') }),
    configInvalid(/list\.yaml must hold a mapping of settings .* got a list/),
  )
  assert.throws(
    () => loadConfig({ file: configFile(t, 'scalar.json', '42') }),
    configInvalid(/scalar\.json must hold a mapping of settings .* got a number/),
  )
  assert.equal(loadConfig({ file: configFile(t, 'empty.yaml', '') }).http.port, 9464)
  assert.throws(
    () => loadConfig({ file: join(tmpdir(), 'no-such-fraudstream-config.yaml') }),
    configInvalid(/cannot read config file .*no-such-fraudstream-config\.yaml/),
  )
})

test('secrets in a config file are refused, each pointing to the variable to set instead', (t) => {
  const yaml = configFile(
    t,
    'secrets.yaml',
    [
      'clickhouse:',
      '  url: https://clickhouse:8443',
      '  username: fraud',
      '  password: s3cret',
      'kafka:',
      '  clientProperties:',
      '    security.protocol: SASL_SSL',
      '    sasl.username: fraud',
      '    sasl.password: s3cret',
      '    ssl.key.pem: "-----BEGIN PRIVATE KEY-----"',
      '',
    ].join('\n'),
  )
  assert.throws(
    () => loadConfig({ file: yaml }),
    configInvalid(
      new RegExp(
        `clickhouse\\.password: secrets are refused in a config file \\(${yaml}\\); set FRAUDSTREAM_CLICKHOUSE_PASSWORD instead`,
      ),
      /kafka\.clientProperties\.sasl\.password: .*set FRAUDSTREAM_KAFKA_SASL_PASSWORD instead/,
      /kafka\.clientProperties\.ssl\.key\.pem: .*point ssl\.key\.location at the key file instead/,
    ),
  )
  // Usernames name an account: allowed in a file.
  assert.throws(
    () => loadConfig({ file: yaml }),
    (err: Error) => !/username/.test(err.message),
  )
  const json = configFile(
    t,
    'secrets.json',
    JSON.stringify({
      kafka: { clientProperties: { 'ssl.key.password': 'x', 'sasl.oauthbearer.client.secret': 'y' } },
      extra: { token: 2 },
    }),
  )
  assert.throws(
    () => loadConfig({ file: json }),
    configInvalid(
      /ssl\.key\.password: .*set FRAUDSTREAM_KAFKA_SSL_KEY_PASSWORD instead/,
      /sasl\.oauthbearer\.client\.secret: .*set FRAUDSTREAM_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET instead/,
      /extra\.token: .*no FRAUDSTREAM_\* variable carries this one yet/,
    ),
  )
  // The same secrets from the environment are read.
  const config = loadConfig({
    file: configFile(t, 'ok.yaml', 'clickhouse:\n  url: https://clickhouse:8443\n  username: fraud\n'),
    env: { FRAUDSTREAM_CLICKHOUSE_PASSWORD: 's3cret', FRAUDSTREAM_KAFKA_SASL_PASSWORD: 'k' },
  })
  assert.equal(config.clickhouse.password, 's3cret')
  assert.equal(config.kafka.clientProperties['sasl.password'], 'k')
})

test('alert digests and tiers are checked across fields: a span past maxInFlight, a tier band upside down', () => {
  assert.throws(
    () => loadConfig({ overrides: { 'alerts.digest.maxOffsetSpan': 5_000, 'runtime.maxInFlight': 4_000 } }),
    configInvalid(/alerts\.digest\.maxOffsetSpan/),
  )
  assert.throws(
    () =>
      loadConfig({
        overrides: { 'infer.tiers.first': 'lr@2', 'infer.tiers.approveBelow': 0.3, 'infer.tiers.declineFrom': 0.2 },
      }),
    configInvalid(/infer\.tiers\.declineFrom/),
  )
  assert.throws(
    () => loadConfig({ overrides: { 'infer.tiers.first': 'lr', 'infer.tiers.approveBelow': 0.02 } }),
    configInvalid(/infer\.tiers\.first/),
  )
  const config = loadConfig({ overrides: { 'runtime.maxInFlight': 4_000 } })
  assert.equal(config.alerts.digest.maxOffsetSpan, undefined)
  assert.equal(config.infer.tiers, undefined)
  assert.equal(
    loadConfig({ overrides: { 'infer.tiers.first': 'lr@2', 'infer.tiers.approveBelow': 0.02 } }).infer.tiers
      ?.approveBelow,
    0.02,
  )
})

test('FRAUDSTREAM_API_KEYS is JSON of api.keys entries, a command default sits under the file and env, and a bad hash names its path', () => {
  const entry = { id: 'gw', hash: 'a'.repeat(64), scopes: ['score'] }
  const config = loadConfig({
    env: { FRAUDSTREAM_API_KEYS: JSON.stringify([entry]) },
    defaults: { 'api.enabled': true },
  })
  assert.equal(config.api.enabled, true)
  assert.deepEqual(config.api.keys, [{ ...entry, ratePerSecond: 1_000, burst: 2_000 }])
  assert.equal(
    loadConfig({ env: { FRAUDSTREAM_API_ENABLED: 'false' }, defaults: { 'api.enabled': true } }).api.enabled,
    false,
  )
  assert.throws(
    () => loadConfig({ env: { FRAUDSTREAM_API_KEYS: '[{"id":"gw","hash":"secret","scopes":["score"]}]' } }),
    /api\.keys\.0\.hash: hash must be the sha256/,
  )
  assert.throws(
    () => loadConfig({ env: { FRAUDSTREAM_API_KEYS: '{oops' } }),
    /api\.keys \(FRAUDSTREAM_API_KEYS\): must be JSON/,
  )
})
