import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { ConfigSchema, type Config } from './schema.js'

/** Each FRAUDSTREAM_* variable and the config path it sets. Lists are comma-separated. */
export const ENV_MAP: Readonly<Record<string, { path: readonly string[]; list?: boolean; secret?: boolean }>> = {
  FRAUDSTREAM_ENVIRONMENT: { path: ['environment'] },
  FRAUDSTREAM_DATA_DIR: { path: ['dataDir'] },
  FRAUDSTREAM_KAFKA_BROKERS: { path: ['kafka', 'brokers'], list: true },
  FRAUDSTREAM_KAFKA_GROUP_ID: { path: ['kafka', 'groupId'] },
  FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL: { path: ['kafka', 'clientProperties', 'security.protocol'] },
  FRAUDSTREAM_KAFKA_SASL_MECHANISM: { path: ['kafka', 'clientProperties', 'sasl.mechanisms'] },
  FRAUDSTREAM_KAFKA_SASL_USERNAME: { path: ['kafka', 'clientProperties', 'sasl.username'], secret: true },
  FRAUDSTREAM_KAFKA_SASL_PASSWORD: { path: ['kafka', 'clientProperties', 'sasl.password'], secret: true },
  FRAUDSTREAM_CLICKHOUSE_URL: { path: ['clickhouse', 'url'] },
  FRAUDSTREAM_CLICKHOUSE_USERNAME: { path: ['clickhouse', 'username'], secret: true },
  FRAUDSTREAM_CLICKHOUSE_PASSWORD: { path: ['clickhouse', 'password'], secret: true },
  FRAUDSTREAM_CLICKHOUSE_DATABASE: { path: ['clickhouse', 'database'] },
  FRAUDSTREAM_MODEL_DIR: { path: ['model', 'dir'] },
  FRAUDSTREAM_FEATURES_MODULE: { path: ['features', 'module'] },
  FRAUDSTREAM_MODEL_CHAMPION: { path: ['model', 'champion'] },
  FRAUDSTREAM_INFER_THREADS: { path: ['infer', 'threads'] },
  FRAUDSTREAM_STATE_STORE: { path: ['runtime', 'stateStore'] },
  FRAUDSTREAM_HTTP_HOST: { path: ['http', 'host'] },
  FRAUDSTREAM_HTTP_PORT: { path: ['http', 'port'] },
  FRAUDSTREAM_LOG_LEVEL: { path: ['log', 'level'] },
}

export interface LoadConfigOptions {
  readonly file?: string
  readonly env?: NodeJS.ProcessEnv
  /** Applied last: command-line flags such as --data-dir. */
  readonly overrides?: Record<string, unknown>
}

/**
 * defaults < file (--config, JSON or YAML) < env (FRAUDSTREAM_*) < command-line overrides. Validated once and frozen.
 * On failure, every issue is reported with its path.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  let raw: Record<string, unknown> = {}
  if (options.file) {
    let text: string
    try {
      text = readFileSync(options.file, 'utf8')
    } catch (err) {
      throw new FraudstreamError(ErrorCode.configInvalid, `cannot read config file ${options.file}: ${(err as Error).message}`, 'input', false, { cause: err })
    }
    const parsed: unknown = options.file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
    if (parsed !== null && typeof parsed === 'object') raw = parsed as Record<string, unknown>
  }
  const env = options.env ?? {}
  for (const [name, target] of Object.entries(ENV_MAP)) {
    const value = env[name]
    if (value === undefined || value === '') continue
    setPath(raw, target.path, target.list ? value.split(',').map((s) => s.trim()).filter(Boolean) : value)
  }
  for (const [dotted, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setPath(raw, dotted.split('.'), value)
  }
  const result = ConfigSchema.safeParse(raw)
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`)
    throw new FraudstreamError(ErrorCode.configInvalid, `invalid configuration:\n${lines.join('\n')}`, 'input')
  }
  return deepFreeze(result.data)
}

/** Secrets are read once into the config, then removed so worker threads and child processes never inherit them. */
export function scrubSecretsFromEnv(env: NodeJS.ProcessEnv): void {
  for (const [name, target] of Object.entries(ENV_MAP)) if (target.secret) delete env[name]
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
