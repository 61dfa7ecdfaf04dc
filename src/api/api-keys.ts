import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Config } from '../config/schema.js'

export type ApiKey = Config['api']['keys'][number]
export type ApiScope = ApiKey['scopes'][number]

/** The key id of `Authorization: Bearer <key>`, or why there is none: 401 either way, with a reason for the log. */
export type Authentication =
  | { readonly kind: 'ok'; readonly key: ApiKey }
  | { readonly kind: 'missing' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'unknown' }

/** sha256 hex of a key: what config holds, so a leaked config file or env dump does not leak a usable key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** A new key: 32 random bytes, base64url, prefixed so a leaked one is recognisable in a secret scanner. */
export function generateApiKey(): string {
  return `fsk_${randomBytes(32).toString('base64url')}`
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/**
 * The configured keys by hash. A presented key is hashed and looked up; the lookup compares hashes, never the key,
 * and the final equality check is constant-time so the time taken says nothing about how close a guess was.
 */
export class ApiKeyring {
  readonly #byHash: ReadonlyMap<string, ApiKey>

  constructor(keys: readonly ApiKey[]) {
    this.#byHash = new Map(keys.map((k) => [k.hash, k]))
  }

  get size(): number {
    return this.#byHash.size
  }

  authenticate(authorization: string | undefined): Authentication {
    if (authorization === undefined || authorization === '') return { kind: 'missing' }
    const match = BEARER.exec(authorization)
    if (!match) return { kind: 'malformed' }
    const hash = hashApiKey(match[1]!)
    const key = this.#byHash.get(hash)
    if (!key || !timingSafeEqual(Buffer.from(key.hash, 'hex'), Buffer.from(hash, 'hex'))) return { kind: 'unknown' }
    return { kind: 'ok', key }
  }
}

export function hasScope(key: ApiKey, scope: ApiScope): boolean {
  return key.scopes.includes(scope)
}
