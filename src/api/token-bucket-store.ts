import type { ApiKey } from './api-keys.js'

interface Bucket {
  tokens: number
  atMs: number
}

export interface TokenBucketLimits {
  readonly ratePerSecond: number
  readonly burst: number
}

/**
 * A token bucket per API key, as a store of @fastify/rate-limit (whose own stores count fixed windows). Each request
 * takes a token; a key's bucket holds at most `burst` and refills at `ratePerSecond`. The plugin's contract is a
 * counter against `max`: `current` is the tokens used out of `burst` (past `burst` when the bucket is empty), and `ttl`
 * the time until the next token, which becomes `Retry-After` (rounded up to whole seconds by the plugin).
 *
 * | rate/s | burst | requests at once | answered      | Retry-After |
 * | ------ | ----- | ---------------- | ------------- | ----------- |
 * | 10     | 5     | 7                | 5 ok, 2 × 429 | 1           |
 * | 0.5    | 1     | 2                | 1 ok, 1 × 429 | 2           |
 */
export class TokenBucketStore {
  readonly #buckets = new Map<string, Bucket>()

  constructor(
    readonly limitsOf: (keyId: string) => TokenBucketLimits | undefined,
    readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** @fastify/rate-limit's store call: `max` is ignored, each key has its own burst. */
  incr(keyId: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void): void {
    const limits = this.limitsOf(keyId)
    // A request without a key never gets here (auth answers 401 first); no limits = nothing to count.
    if (!limits) return callback(null, { current: 0, ttl: 0 })
    const nowMs = this.nowMs()
    const bucket = this.#buckets.get(keyId) ?? { tokens: limits.burst, atMs: nowMs }
    bucket.tokens = Math.min(limits.burst, bucket.tokens + ((nowMs - bucket.atMs) * limits.ratePerSecond) / 1000)
    bucket.atMs = nowMs
    this.#buckets.set(keyId, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      callback(null, { current: limits.burst - Math.floor(bucket.tokens), ttl: msPerToken(limits) })
      return
    }
    callback(null, { current: limits.burst + 1, ttl: Math.ceil(((1 - bucket.tokens) * 1000) / limits.ratePerSecond) })
  }

  /** Route-level limits share the buckets: a key's budget is one, whichever route it spends it on. */
  child(): TokenBucketStore {
    return this
  }
}

function msPerToken(limits: TokenBucketLimits): number {
  return Math.ceil(1000 / limits.ratePerSecond)
}

/** Each key's limits by id: the keys are few and fixed at start, so the map is the bound on the buckets. */
export function limitsByKeyId(keys: readonly ApiKey[]): (keyId: string) => TokenBucketLimits | undefined {
  const byId = new Map(keys.map((k) => [k.id, { ratePerSecond: k.ratePerSecond, burst: k.burst }]))
  return (keyId) => byId.get(keyId)
}
