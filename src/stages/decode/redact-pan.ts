import { isLuhnValid } from '../../core/transaction-v1.js'

const ZERO = 0x30
const NINE = 0x39
const STAR = 0x2a
const isDigit = (b: number) => b >= ZERO && b <= NINE

/**
 * Masks every run of 13–19 ASCII digits that passes Luhn, keeping the last four (PCI DSS 3.4.1 allows at most
 * BIN + last 4; we keep less). Works on raw bytes, so it covers JSON and msgpack strings alike. Returns a copy.
 */
export function redactPans(bytes: Uint8Array): Uint8Array {
  let out: Uint8Array | undefined
  let i = 0
  while (i < bytes.length) {
    if (!isDigit(bytes[i]!)) {
      i++
      continue
    }
    let end = i
    while (end < bytes.length && isDigit(bytes[end]!)) end++
    const length = end - i
    if (length >= 13 && length <= 19 && isLuhnValid(String.fromCharCode(...bytes.subarray(i, end)))) {
      out ??= Uint8Array.from(bytes)
      out.fill(STAR, i, end - 4)
    }
    i = end
  }
  return out ?? bytes
}
