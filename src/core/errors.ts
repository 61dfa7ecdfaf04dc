/**
 * Every error fraudstream raises carries a stable `code`. Check `code`, never `instanceof`: errors that cross a
 * Piscina worker boundary are structured-cloned and lose their class.
 *
 * | code | what to do |
 * | --- | --- |
 * | FS_ERR_CONFIG_INVALID | fix the listed config paths (file or FRAUDSTREAM_* env) |
 * | FS_ERR_DECODE_* | input problem; the record is in the dead-letter topic with this reason |
 * | FS_ERR_KAFKA_CONNECT | no broker answered; check `kafka.brokers`, the network and `kafka.clientProperties` (security) |
 * | FS_ERR_KAFKA_TOPIC_MISSING | the topic (or partition) does not exist; create it with the partition count the docs give |
 * | FS_ERR_KAFKA_METADATA | a metadata, watermark or committed-offset query failed; check broker health, it is retried |
 * | FS_ERR_KAFKA_CONSUME | fetching records failed or stalled; check broker health and the consumer's ACLs, it is retried |
 * | FS_ERR_KAFKA_PRODUCE | the producer refused a record; check the topic's ACLs and `message.max.bytes` against the record |
 * | FS_ERR_KAFKA_COMMIT | an offset commit failed; it is sent again once the group is stable, check the group coordinator |
 * | FS_ERR_KAFKA_REBALANCE | assigning or revoking partitions failed (see the cause); the member leaves its partitions, restart it |
 * | FS_ERR_KAFKA_NO_OFFSET | the group has no committed offset and `kafka.autoOffsetReset` is `error`; commit one or choose earliest/latest |
 * | FS_ERR_KAFKA_TOPIC_LAYOUT | internal topics disagree (lookup-facts and lookup-tables need as many partitions); recreate them alike |
 * | FS_ERR_KAFKA_MOCK | the in-process mock cluster (no `kafka.brokers`) did not start; set `kafka.brokers` or report it |
 * | FS_ERR_SINK_CLICKHOUSE | ClickHouse rejected or did not answer; the sink retries the identical batch |
 * | FS_ERR_MODEL_LOAD | the model package is missing or invalid; run `fraudstream train` or check `models/` |
 * | FS_ERR_MODEL_CONTRACT | the model's feature contract does not match the topology's features; retrain |
 * | FS_ERR_INFER | inference failed in a worker or missed `infer.deadlineMs`; the batch is decided by `infer.fallback.rules` (reason `fallback`) and the job goes on |
 * | FS_ERR_RULE_INVALID | a rule does not parse or names an unknown field, feature or list; the message gives its path and the known names |
 * | FS_ERR_LIST_INVALID | a list entry is off (kind, list, value or expiry); the message names the field and its allowed values |
 * | FS_ERR_API_OVERLOADED | the scoring API has api.maxConcurrent transactions in flight (503): retry after a pause, or add instances |
 * | FS_ERR_INTERNAL | a broken invariant; please report it with the log |
 * | FS_ERR_USAGE | a command-line option is off; the message names it and its allowed values |
 */
export const ErrorCode = {
  configInvalid: 'FS_ERR_CONFIG_INVALID',
  kafkaConnect: 'FS_ERR_KAFKA_CONNECT',
  kafkaTopicMissing: 'FS_ERR_KAFKA_TOPIC_MISSING',
  kafkaMetadata: 'FS_ERR_KAFKA_METADATA',
  kafkaConsume: 'FS_ERR_KAFKA_CONSUME',
  kafkaProduce: 'FS_ERR_KAFKA_PRODUCE',
  kafkaCommit: 'FS_ERR_KAFKA_COMMIT',
  kafkaRebalance: 'FS_ERR_KAFKA_REBALANCE',
  kafkaNoOffset: 'FS_ERR_KAFKA_NO_OFFSET',
  kafkaTopicLayout: 'FS_ERR_KAFKA_TOPIC_LAYOUT',
  kafkaMock: 'FS_ERR_KAFKA_MOCK',
  sinkClickhouse: 'FS_ERR_SINK_CLICKHOUSE',
  modelLoad: 'FS_ERR_MODEL_LOAD',
  modelContract: 'FS_ERR_MODEL_CONTRACT',
  infer: 'FS_ERR_INFER',
  ruleInvalid: 'FS_ERR_RULE_INVALID',
  listInvalid: 'FS_ERR_LIST_INVALID',
  apiOverloaded: 'FS_ERR_API_OVERLOADED',
  internal: 'FS_ERR_INTERNAL',
  usage: 'FS_ERR_USAGE',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export type ErrorDomain = 'input' | 'external' | 'internal'

export class FraudstreamError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly domain: ErrorDomain,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'FraudstreamError'
  }
}

/** Whether `err` asks to be retried: a FraudstreamError raised retryable, recognised by its fields, as above. */
export function isRetryable(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { retryable?: unknown }).retryable === true &&
    typeof errorCodeOf(err) === 'string'
  )
}

export function errorCodeOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code
    return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined
  }
  return undefined
}

/** The message of an Error or of an error-like object (node-rdkafka's callback errors, structured clones), else String(err). */
export function errorMessageOf(err: unknown): string {
  if (err instanceof Error) return err.message
  const message = typeof err === 'object' && err !== null ? (err as { message?: unknown }).message : undefined
  return typeof message === 'string' ? message : String(err)
}
