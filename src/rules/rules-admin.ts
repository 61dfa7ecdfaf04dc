import { baseClientConfig } from '../adapters/kafka/client-config.js'
import { KafkaProducerSink } from '../adapters/kafka/producer-sink.js'
import { readPartition } from '../adapters/kafka/read-partition.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'
import type { SourceRecord } from '../core/ports.js'
import { createLogger, type Logger } from '../observability/logger.js'
import { topicsOf } from '../../topology/card-fraud.js'
import { compileRule } from './compile-rule.js'
import { ListKind, listEntryKey, validateListEntry, type ListEntryV1 } from './list-entry.js'
import { ListIndex } from './list-index.js'
import { ListName, validateRule, type RuleV1 } from './rule-v1.js'
import { RulesState } from './rules-state.js'

const ACK_TIMEOUT_MS = 30_000

export interface RulesAdminOptions {
  readonly config: Config
  readonly bootstrapServers: string
  /** The feature set rules are checked against: a rule naming another feature is refused at put. */
  readonly featureNames: readonly string[]
  readonly log?: Logger
}

/** The rules and lists as the topics hold them now, with the version an instance that read them decides with. */
export interface RulesSnapshot {
  readonly version: string
  readonly rules: RuleV1[]
  readonly entries: ListEntryV1[]
  /** Records an instance would refuse (invalid, or naming a feature this feature set lacks), by key. */
  readonly refused: { topic: 'rules' | 'lists'; key: string; message: string }[]
}

/**
 * The admin side of the rules and lists topics: what `fraudstream rules` / `fraudstream lists` and the HTTP admin
 * endpoints call. A put is validated and compiled against the feature set before it is written, so an invalid rule
 * never reaches the instances; each write resolves once the broker acknowledged it, after which every running
 * instance applies it within a second.
 *
 * @example
 *   const admin = await RulesAdmin.connect({ config, bootstrapServers, featureNames })
 *   try { await admin.putRule(rule) } finally { await admin.close() }
 */
export class RulesAdmin {
  readonly topics: { readonly rules: string; readonly lists: string }

  private constructor(
    readonly options: RulesAdminOptions,
    readonly producer: KafkaProducerSink,
  ) {
    const { rules, lists } = topicsOf(options.config)
    this.topics = { rules, lists }
  }

  static async connect(options: RulesAdminOptions): Promise<RulesAdmin> {
    const producer = await KafkaProducerSink.connect({
      config: baseClientConfig(options.config, options.bootstrapServers, 'fraudstream-rules-admin'),
      log: options.log ?? createLogger({ level: 'warn' }),
    })
    return new RulesAdmin(options, producer)
  }

  /** Every rule and list entry the topics hold now, read to their ends. */
  async snapshot(): Promise<RulesSnapshot> {
    const refused: RulesSnapshot['refused'] = []
    const state = new RulesState({
      featureNames: this.options.featureNames,
      onRefused: (topic, key, err) => refused.push({ topic, key, message: errorMessageOf(err) }),
    })
    const [rules, lists] = await Promise.all([this.#read(this.topics.rules), this.#read(this.topics.lists)])
    state.applyRuleRecords(rules)
    state.applyListRecords(lists)
    return { version: state.version, rules: state.rules(), entries: state.entries(), refused }
  }

  async listRules(): Promise<RuleV1[]> {
    return (await this.snapshot()).rules
  }

  /** Validates and compiles a rule against the feature set without writing it; FS_ERR_RULE_INVALID when it is off. */
  async checkRule(raw: unknown): Promise<RuleV1> {
    const rule = validateRule(raw)
    compileRule(rule, { featureNames: this.options.featureNames, lists: new ListIndex() })
    return rule
  }

  /** Validates, compiles against the feature set, and writes the rule under its id (replacing one of that id). */
  async putRule(raw: unknown): Promise<RuleV1> {
    const rule = await this.checkRule(raw)
    await this.#send(this.topics.rules, rule.id, JSON.stringify(rule))
    return rule
  }

  /** Writes the rule's tombstone; FS_ERR_USAGE when no such rule is held. */
  async deleteRule(id: string): Promise<void> {
    const held = await this.listRules()
    if (!held.some((r) => r.id === id))
      throw new FraudstreamError(
        ErrorCode.usage,
        `there is no rule ${id} (held: ${held.map((r) => r.id).join(', ') || 'none'})`,
        'input',
      )
    await this.#send(this.topics.rules, id, null)
  }

  async listEntries(): Promise<ListEntryV1[]> {
    return (await this.snapshot()).entries
  }

  /** Validates and writes an entry (added_at defaults to now); one of the same list, kind and value is replaced. */
  async addEntry(raw: unknown): Promise<ListEntryV1> {
    const withTime =
      typeof raw === 'object' && raw !== null && !('added_at' in raw)
        ? { ...raw, added_at: new Date().toISOString() }
        : raw
    const entry = validateListEntry(withTime)
    await this.#send(this.topics.lists, listEntryKey(entry), JSON.stringify(entry))
    return entry
  }

  /**
   * Removes `value` of `kind` from `list`, or from every list holding it; returns the keys removed. FS_ERR_USAGE
   * when no list holds it.
   */
  async removeEntry(kind: string, value: string, list?: string): Promise<string[]> {
    if (!(ListKind as readonly string[]).includes(kind))
      throw new FraudstreamError(
        ErrorCode.listInvalid,
        `kind must be one of ${ListKind.join(', ')}, got "${kind}"`,
        'input',
      )
    if (list !== undefined && !(ListName as readonly string[]).includes(list))
      throw new FraudstreamError(
        ErrorCode.listInvalid,
        `list must be one of ${ListName.join(', ')}, got "${list}"`,
        'input',
      )
    const keys = (await this.listEntries())
      .filter((e) => e.kind === kind && e.value === value && (list === undefined || e.list === list))
      .map(listEntryKey)
    if (keys.length === 0)
      throw new FraudstreamError(
        ErrorCode.usage,
        `no ${list ?? 'allow, block or watch'} list holds ${kind} ${value}`,
        'input',
      )
    for (const key of keys) await this.#send(this.topics.lists, key, null)
    return keys
  }

  async close(): Promise<void> {
    await this.producer.close()
  }

  async #read(topic: string): Promise<SourceRecord[]> {
    const clientConfig = baseClientConfig(this.options.config, this.options.bootstrapServers, 'fraudstream-rules-admin')
    const partitions = await this.producer.partitionCount(topic)
    const parts = await Promise.all(
      Array.from({ length: partitions }, (_, p) => readPartition(clientConfig, topic, p, 30_000)),
    )
    return parts.flat()
  }

  async #send(topic: string, key: string, value: string | null): Promise<void> {
    await this.producer.sendAcked(
      { topic, key, value: value === null ? null : Buffer.from(value) },
      ACK_TIMEOUT_MS,
      () =>
        new FraudstreamError(
          ErrorCode.kafkaProduce,
          `${topic} did not acknowledge ${key} within ${ACK_TIMEOUT_MS / 1000} s: running instances may not have it; run the command again once the brokers answer`,
          'external',
        ),
    )
  }
}
