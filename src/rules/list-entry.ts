import { z } from 'zod'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Transaction } from '../core/transaction-v1.js'
import { issuesOf, ListName } from './rule-v1.js'

/** What a list entry matches: each kind is one Transaction v1 field. */
export const ListKind = ['card', 'terminal', 'merchant', 'device', 'ip', 'country'] as const
export type ListKind = (typeof ListKind)[number]

/** The transaction field each list kind is looked up with. */
export const LIST_FIELD = {
  card: 'card_id',
  terminal: 'terminal_id',
  merchant: 'merchant_id',
  device: 'device_id',
  ip: 'ip',
  country: 'country',
} as const satisfies Record<ListKind, keyof Transaction>

/** The list kind a rule's `in_list` condition looks a field up in; undefined for a field no list holds. */
export function listKindOfField(name: string): ListKind | undefined {
  if (name === 'card_country') return 'country'
  return ListKind.find((kind) => LIST_FIELD[kind] === name)
}

/**
 * List entry v1, the record of the compacted `<group>.lists` topic, key `<list>:<kind>:<value>`:
 * `{ list: allow|block|watch, kind, value, expires_at?, reason?, added_at }`.
 *
 * | list  | a hit                                                                                   |
 * | ----- | --------------------------------------------------------------------------------------- |
 * | block | decline before the model (no inference); reason and rule `list:block:<kind>`             |
 * | allow | approve before the model (no inference); reason and rule `list:allow:<kind>`; block wins |
 * | watch | only the reason `list:watch:<kind>`; rules read it with `in_list: watch`                |
 *
 * An entry past `expires_at` (wall-clock time) no longer matches; it stays in the topic until deleted.
 */
export interface ListEntryV1 {
  readonly list: ListName
  readonly kind: ListKind
  readonly value: string
  /** ISO-8601; absent = no expiry. */
  readonly expires_at?: string | undefined
  /** Free text for the analyst (why it was listed); not a reason code. */
  readonly reason?: string | undefined
  readonly added_at?: string | undefined
}

export const ListEntryV1Schema = z.strictObject({
  list: z.enum(ListName).default('block'),
  kind: z.enum(ListKind),
  value: z.string().min(1).max(128),
  expires_at: z.iso.datetime({ offset: true }).optional(),
  reason: z.string().max(500).optional(),
  added_at: z.iso.datetime({ offset: true }).optional(),
})

export function validateListEntry(raw: unknown, source = 'list entry'): ListEntryV1 {
  const parsed = ListEntryV1Schema.safeParse(raw)
  if (parsed.success) return parsed.data as ListEntryV1
  throw new FraudstreamError(ErrorCode.listInvalid, `${source} is not valid: ${issuesOf(parsed.error)}`, 'input')
}

/** The topic key of an entry: one record per (list, kind, value), so re-adding replaces and a tombstone removes it. */
export function listEntryKey(entry: Pick<ListEntryV1, 'list' | 'kind' | 'value'>): string {
  return `${entry.list}:${entry.kind}:${entry.value}`
}

/** The epoch ms an entry expires at, or Infinity. */
export function expiresAtMs(entry: ListEntryV1): number {
  return entry.expires_at === undefined ? Infinity : Date.parse(entry.expires_at)
}
