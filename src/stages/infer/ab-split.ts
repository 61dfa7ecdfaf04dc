import type { ModelRef } from '../../core/records.js'

/**
 * A card's arm in an A/B test: a stable hash of the card, salted with the challenger's name@version, below `percent`
 * of 10,000 buckets → the challenger. Every transaction of a card lands in the same arm on every instance and in
 * every replay; a new challenger draws a fresh split, so one experiment's cards do not carry into the next.
 *
 * | challenger        | card   | bucket (of 10,000) | percent 10 → arm |
 * | ----------------- | ------ | ------------------ | ---------------- |
 * | card-fraud-gbdt@2 | card-7 | 592                | challenger       |
 * | card-fraud-gbdt@2 | card-1 | 6,306              | champion         |
 */
export function challengerArm(cardId: string, challenger: ModelRef, percent: number): 'champion' | 'challenger' {
  return bucketOf(`${challenger.name}@${challenger.version}:${cardId}`) < percent * 100 ? 'challenger' : 'champion'
}

/** FNV-1a (32-bit) over the UTF-16 code units, mod 10,000: cheap, stable across versions and platforms. */
export function bucketOf(key: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % 10_000
}
