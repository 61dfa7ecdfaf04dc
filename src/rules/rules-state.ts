import { createHash } from 'node:crypto'
import { errorMessageOf } from '../core/errors.js'
import { compileRule, type CompiledRule } from './compile-rule.js'
import { listEntryKey, validateListEntry, type ListEntryV1 } from './list-entry.js'
import { ListIndex } from './list-index.js'
import { RuleEngine } from './rule-engine.js'
import { validateRule, type RuleV1 } from './rule-v1.js'

/** A record of the rules or lists topic: key = id, value = JSON, null value = a tombstone (delete). */
export interface TableRecord {
  readonly key: Buffer | null
  readonly value: Buffer | null
}

export interface RulesStateOptions {
  readonly featureNames: readonly string[]
  /** A record that is not a valid rule or entry, or a rule this feature set cannot run: the state keeps the key's previous value. */
  readonly onRefused?: (topic: 'rules' | 'lists', key: string, err: unknown) => void
  readonly onApplied?: (topic: 'rules' | 'lists', records: number, engine: RuleEngine) => void
}

/**
 * The broadcast state every instance holds: the rules and list entries as read from their compacted topics (like a
 * Kafka Streams GlobalKTable), and the RuleEngine of the current version. Each batch of records makes one new
 * engine; stages read `engine` per batch, so a change reaches the next batch.
 *
 * The version is a content hash: the XOR of the first 64 bits of SHA-256(key, value) over every rule and entry held.
 * It is the same on every instance that has read the same records, however the topics are partitioned, and an
 * order-independent sum is updated per record instead of rehashing every entry on each change.
 */
export class RulesState {
  readonly #rules = new Map<string, { rule: RuleV1; compiled: CompiledRule | undefined }>()
  readonly #lists = new ListIndex()
  readonly #hashes = new Map<string, bigint>()
  #sum = 0n
  #engine: RuleEngine

  constructor(readonly options: RulesStateOptions) {
    this.#engine = new RuleEngine(this.version, [], this.#lists)
  }

  /** The rules and lists decisions are made with now. */
  get engine(): RuleEngine {
    return this.#engine
  }

  get version(): string {
    return this.#sum.toString(16).padStart(16, '0')
  }

  /** The rules held, enabled or not, by id. */
  rules(): RuleV1[] {
    return [...this.#rules.values()]
      .map((r) => r.rule)
      .sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : 1))
  }

  entries(): ListEntryV1[] {
    return [...this.#lists.entries()]
  }

  /** Records of the rules topic, in offset order. */
  applyRuleRecords(records: readonly TableRecord[]): void {
    let applied = 0
    for (const record of records) {
      const key = record.key?.toString()
      if (key === undefined) {
        this.options.onRefused?.('rules', '', new Error('a rules record without a key'))
        continue
      }
      if (record.value === null) {
        this.#rules.delete(key)
        this.#hash(`rule:${key}`, undefined)
        applied++
        continue
      }
      try {
        const rule = validateRule(JSON.parse(record.value.toString()), `rules record ${key}`)
        if (rule.id !== key) throw new Error(`rules record ${key} holds rule ${rule.id}: the key must be the id`)
        const compiled = rule.enabled
          ? compileRule(rule, { featureNames: this.options.featureNames, lists: this.#lists })
          : undefined
        this.#rules.set(key, { rule, compiled })
        this.#hash(`rule:${key}`, record.value)
        applied++
      } catch (err) {
        this.options.onRefused?.('rules', key, err)
      }
    }
    if (applied > 0) this.#renew('rules', applied)
  }

  /** Records of the lists topic, in offset order. */
  applyListRecords(records: readonly TableRecord[]): void {
    let applied = 0
    for (const record of records) {
      const key = record.key?.toString()
      if (key === undefined) {
        this.options.onRefused?.('lists', '', new Error('a lists record without a key'))
        continue
      }
      if (record.value === null) {
        this.#lists.remove(key)
        this.#hash(`list:${key}`, undefined)
        applied++
        continue
      }
      try {
        const entry = validateListEntry(JSON.parse(record.value.toString()), `lists record ${key}`)
        if (listEntryKey(entry) !== key)
          throw new Error(`lists record ${key} holds ${listEntryKey(entry)}: the key must be <list>:<kind>:<value>`)
        this.#lists.put(entry)
        this.#hash(`list:${key}`, record.value)
        applied++
      } catch (err) {
        this.options.onRefused?.('lists', key, new Error(errorMessageOf(err), { cause: err }))
      }
    }
    if (applied > 0) this.#renew('lists', applied)
  }

  #hash(key: string, value: Buffer | undefined): void {
    const old = this.#hashes.get(key)
    if (old !== undefined) this.#sum ^= old
    if (value === undefined) {
      this.#hashes.delete(key)
      return
    }
    const digest = createHash('sha256').update(key).update('\0').update(value).digest()
    const h = digest.readBigUInt64BE(0)
    this.#hashes.set(key, h)
    this.#sum ^= h
  }

  #renew(topic: 'rules' | 'lists', records: number): void {
    const compiled: CompiledRule[] = []
    for (const { compiled: c } of this.#rules.values()) if (c) compiled.push(c)
    this.#engine = new RuleEngine(this.version, compiled, this.#lists)
    this.options.onApplied?.(topic, records, this.#engine)
  }
}
