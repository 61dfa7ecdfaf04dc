import assert from 'node:assert/strict'
import type { ZodType } from 'zod'

/**
 * Holds a fast validity check (knownValidTransaction, knownValidLabel) to its schema: for each variant of a valid
 * record (a key set to undefined is removed; the variant's keys also come first, so key order is the schema's to
 * restore), the check returns the schema's result with its keys in the schema's order, or undefined where the schema
 * rejects. Every valid variant must be known: undefined would only cost time, but would hide a slip. Returns how many
 * variants were valid.
 */
export function assertKnownValid<T>(
  schema: ZodType<T>,
  knownValid: (value: Readonly<Record<string, unknown>>) => T | undefined,
  valid: Readonly<Record<string, unknown>>,
  variants: readonly Readonly<Record<string, unknown>>[],
): number {
  let known = 0
  for (const variant of variants) {
    const record: Record<string, unknown> = { ...variant, ...valid, ...variant }
    for (const [key, value] of Object.entries(variant)) if (value === undefined) delete record[key]
    const parsed = schema.safeParse(record)
    const fast = knownValid(record)
    const name = JSON.stringify(variant)
    if (!parsed.success) {
      assert.equal(fast, undefined, `${name}: the schema rejects it`)
      continue
    }
    assert.notEqual(fast, undefined, `${name}: valid, and simple enough to be known`)
    assert.deepEqual(fast, parsed.data, name)
    assert.deepEqual(Object.keys(fast!), Object.keys(parsed.data as object), `${name}: keys in the schema's order`)
    known++
  }
  return known
}
