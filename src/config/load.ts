import { readFileSync } from 'node:fs'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { errorMessageOf, ErrorCode, FraudstreamError } from '../core/errors.js'
import { ConfigSchema, type Config } from './schema.js'

/**
 * How a variable's text becomes a value. `list`: comma-separated. `boolean`: only true / false / 1 / 0, because a
 * coercing parser reads any non-empty text, "false" included, as true.
 */
export interface EnvTarget {
  readonly path: readonly string[]
  readonly list?: boolean
  readonly boolean?: boolean
  /** JSON text (a list of objects, such as api.keys). */
  readonly json?: boolean
  readonly secret?: boolean
}

/** Each FRAUDSTREAM_* variable and the config path it sets. */
export const ENV_MAP: Readonly<Record<string, EnvTarget>> = {
  FRAUDSTREAM_ENVIRONMENT: { path: ['environment'] },
  FRAUDSTREAM_DATA_DIR: { path: ['dataDir'] },
  FRAUDSTREAM_KAFKA_BROKERS: { path: ['kafka', 'brokers'], list: true },
  FRAUDSTREAM_KAFKA_GROUP_ID: { path: ['kafka', 'groupId'] },
  FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL: { path: ['kafka', 'clientProperties', 'security.protocol'] },
  FRAUDSTREAM_KAFKA_SASL_MECHANISM: { path: ['kafka', 'clientProperties', 'sasl.mechanisms'] },
  FRAUDSTREAM_KAFKA_SASL_USERNAME: { path: ['kafka', 'clientProperties', 'sasl.username'], secret: true },
  FRAUDSTREAM_KAFKA_SASL_PASSWORD: { path: ['kafka', 'clientProperties', 'sasl.password'], secret: true },
  FRAUDSTREAM_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: {
    path: ['kafka', 'clientProperties', 'sasl.oauthbearer.client.secret'],
    secret: true,
  },
  FRAUDSTREAM_KAFKA_SSL_KEY_PASSWORD: { path: ['kafka', 'clientProperties', 'ssl.key.password'], secret: true },
  FRAUDSTREAM_KAFKA_SSL_KEYSTORE_PASSWORD: {
    path: ['kafka', 'clientProperties', 'ssl.keystore.password'],
    secret: true,
  },
  FRAUDSTREAM_CLICKHOUSE_URL: { path: ['clickhouse', 'url'] },
  FRAUDSTREAM_CLICKHOUSE_USERNAME: { path: ['clickhouse', 'username'], secret: true },
  FRAUDSTREAM_CLICKHOUSE_PASSWORD: { path: ['clickhouse', 'password'], secret: true },
  FRAUDSTREAM_CLICKHOUSE_DATABASE: { path: ['clickhouse', 'database'] },
  FRAUDSTREAM_MODEL_DIR: { path: ['model', 'dir'] },
  FRAUDSTREAM_FEATURES_MODULE: { path: ['features', 'module'] },
  FRAUDSTREAM_MODEL_CHAMPION: { path: ['model', 'champion'] },
  FRAUDSTREAM_INFER_THREADS: { path: ['infer', 'threads'] },
  FRAUDSTREAM_STATE_STORE: { path: ['runtime', 'stateStore'] },
  FRAUDSTREAM_HTTP_ENABLED: { path: ['http', 'enabled'], boolean: true },
  FRAUDSTREAM_HTTP_HOST: { path: ['http', 'host'] },
  FRAUDSTREAM_HTTP_PORT: { path: ['http', 'port'] },
  FRAUDSTREAM_API_ENABLED: { path: ['api', 'enabled'], boolean: true },
  FRAUDSTREAM_API_HOST: { path: ['api', 'host'] },
  FRAUDSTREAM_API_PORT: { path: ['api', 'port'] },
  FRAUDSTREAM_API_KEYS: { path: ['api', 'keys'], json: true },
  FRAUDSTREAM_LOG_LEVEL: { path: ['log', 'level'] },
}

/**
 * Key names that hold a secret wherever they appear in a config file: the last dot-separated part of the key
 * (`sasl.password` → `password`), case-insensitive, so librdkafka properties and our own fields are caught alike.
 * Usernames are not on the list: they name an account and are safe to commit.
 */
const SECRET_KEY =
  /^(password|passwd|passphrase|secret|token|api_?key|secret_?key|access_?key|private_?key|credentials?)$/i
/** librdkafka properties that hold a secret under a neutral name (a PEM private key given inline), and what to use. */
const SECRET_PROPERTIES: ReadonlyMap<string, string> = new Map([
  ['ssl.key.pem', 'point ssl.key.location at the key file instead'],
  ['ssl_key', 'point ssl.key.location at the key file instead'],
])

export interface LoadConfigOptions {
  readonly file?: string
  readonly env?: NodeJS.ProcessEnv
  /** A command's own defaults (`demo` turns the API on), applied over the schema's and under everything else. */
  readonly defaults?: Record<string, unknown>
  /** Applied last: command-line flags such as --data-dir. */
  readonly overrides?: Record<string, unknown>
}

/**
 * defaults < a command's defaults < file (--config, JSON or YAML) < env (FRAUDSTREAM_*) < command-line overrides. Validated once and frozen.
 * On failure, every issue is reported with its path, and with the variable when the value came from one.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const issues: string[] = []
  const fromFile = options.file ? readConfigFile(options.file) : {}
  if (options.file) issues.push(...secretIssues(fromFile, options.file))
  const raw: Record<string, unknown> = {}
  for (const [dotted, value] of Object.entries(options.defaults ?? {})) setPath(raw, dotted.split('.'), value)
  mergeInto(raw, fromFile)
  const env = options.env ?? {}
  const fromEnv = new Map<string, string>()
  for (const [name, target] of Object.entries(ENV_MAP)) {
    const text = env[name]
    if (text === undefined || text === '') continue
    let value: unknown = text
    if (target.list)
      value = text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    if (target.json) {
      try {
        value = JSON.parse(text)
      } catch (err) {
        issues.push(`  ${target.path.join('.')} (${name}): must be JSON: ${errorMessageOf(err)}`)
        continue
      }
    }
    if (target.boolean) {
      value = parseBoolean(text)
      if (value === undefined) {
        issues.push(`  ${target.path.join('.')} (${name}): must be true or false (or 1 / 0), got "${text}"`)
        continue
      }
    }
    setPath(raw, target.path, value)
    fromEnv.set(target.path.join('.'), name)
  }
  for (const [dotted, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue
    setPath(raw, dotted.split('.'), value)
    // A flag overrides the variable (or the object holding it), so the variable is no longer where a bad value came from.
    for (const path of fromEnv.keys()) if (path === dotted || path.startsWith(`${dotted}.`)) fromEnv.delete(path)
  }
  const result = ConfigSchema.safeParse(raw)
  if (!result.success) {
    for (const i of result.error.issues) {
      const path = i.path.join('.')
      const variable = fromEnv.get(path)
      issues.push(`  ${path || '(root)'}${variable ? ` (${variable})` : ''}: ${i.message}`)
    }
  }
  if (issues.length > 0 || !result.success) {
    throw new FraudstreamError(ErrorCode.configInvalid, `invalid configuration:\n${issues.join('\n')}`, 'input')
  }
  return deepFreeze(result.data)
}

/** Secrets are read once into the config, then removed so worker threads and child processes never inherit them. */
export function scrubSecretsFromEnv(env: NodeJS.ProcessEnv): void {
  for (const [name, target] of Object.entries(ENV_MAP)) if (target.secret) delete env[name]
}

/** `true` / `false` / `1` / `0`, any case; anything else is undefined so the caller can name the variable. */
export function parseBoolean(text: string): boolean | undefined {
  const value = text.trim().toLowerCase()
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  return undefined
}

/** Reads `--config`: JSON when the name ends in .json, YAML otherwise; a malformed body names the file and the spot. */
function readConfigFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new FraudstreamError(
      ErrorCode.configInvalid,
      `cannot read config file ${file}: ${errorMessageOf(err)}`,
      'input',
      false,
      { cause: err },
    )
  }
  const json = file.endsWith('.json')
  let parsed: unknown
  try {
    parsed = json ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new FraudstreamError(
      ErrorCode.configInvalid,
      `config file ${file} is not valid ${json ? 'JSON' : 'YAML'}: ${describeParseError(err, text)}`,
      'input',
      false,
      { cause: err },
    )
  }
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FraudstreamError(
      ErrorCode.configInvalid,
      `config file ${file} must hold a mapping of settings (kafka:, clickhouse:, …), got ${Array.isArray(parsed) ? 'a list' : `a ${typeof parsed}`}`,
      'input',
    )
  }
  return parsed as Record<string, unknown>
}

/**
 * The parser's message with its line and column. yaml reports `linePos` (its message repeats it and quotes the
 * source, which we drop); V8's JSON.parse says "at position N" on Node 20 and adds "(line L column C)" on newer
 * versions, so a bare offset is turned into a line and column here.
 */
function describeParseError(err: unknown, text: string): string {
  if (err instanceof YAMLParseError) {
    const reason = err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').trim()
    const at = err.linePos?.[0]
    return at ? `line ${at.line}, column ${at.col}: ${reason}` : reason
  }
  const message = errorMessageOf(err)
  const offset = /at position (\d+)/.exec(message)?.[1]
  if (offset === undefined || /\(line \d+ column \d+\)/.test(message)) return message
  const before = text.slice(0, Number(offset))
  const line = before.split('\n').length
  const col = Number(offset) - before.lastIndexOf('\n')
  return `line ${line}, column ${col}: ${message}`
}

/** A secret in a file ends up in version control and in every copy of the file: each one is refused by path. */
function secretIssues(raw: Record<string, unknown>, file: string): string[] {
  const envFor = new Map(Object.entries(ENV_MAP).map(([name, target]) => [target.path.join('\u0000'), name]))
  const issues: string[] = []
  const walk = (node: unknown, path: readonly string[]) => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return
    for (const [key, child] of Object.entries(node)) {
      const at = [...path, key]
      if (SECRET_KEY.test(key.split('.').at(-1)!) || SECRET_PROPERTIES.has(key)) {
        const variable = envFor.get(at.join('\u0000'))
        const instead = variable
          ? `set ${variable} instead`
          : (SECRET_PROPERTIES.get(key) ?? 'no FRAUDSTREAM_* variable carries this one yet')
        issues.push(`  ${at.join('.')}: secrets are refused in a config file (${file}); ${instead}`)
      } else walk(child, at)
    }
  }
  walk(raw, [])
  return issues
}

/** Deep-merges plain objects of `source` into `target`; anything else (lists included) replaces. */
function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const into = target[key]
    if (isPlainObject(value) && isPlainObject(into)) mergeInto(into, value)
    else target[key] = value
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    const child = node[key]
    if (typeof child !== 'object' || child === null) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[path[path.length - 1]!] = value
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
