import { isLuhnValid } from '../../core/transaction-v1.js'

const ZERO = 0x30
const NINE = 0x39
const SPACE = 0x20
const DASH = 0x2d
const STAR = 0x2a
const isDigit = (b: number | undefined) => b !== undefined && b >= ZERO && b <= NINE
const isSeparator = (b: number | undefined) => b === SPACE || b === DASH

/**
 * Masks every run of 13–19 ASCII digits that passes Luhn, with single spaces or dashes allowed between digits
 * ("4111 1111 1111 1111"), keeping the last four digits (PCI DSS 3.4.1 allows at most BIN + last 4; we keep less).
 * Works on raw bytes, so it covers JSON and msgpack strings alike. Returns a copy when anything was masked.
 */
export function redactPans(bytes: Uint8Array): Uint8Array {
  let out: Uint8Array | undefined
  let i = 0
  while (i < bytes.length) {
    if (!isDigit(bytes[i])) {
      i++
      continue
    }
    const digitPositions: number[] = []
    let end = i
    while (end < bytes.length) {
      if (isDigit(bytes[end])) digitPositions.push(end++)
      else if (isSeparator(bytes[end]) && isDigit(bytes[end + 1])) end++
      else break
    }
    if (digitPositions.length >= 13 && digitPositions.length <= 19) {
      const digits = String.fromCharCode(...digitPositions.map((p) => bytes[p]!))
      if (isLuhnValid(digits)) {
        out ??= Uint8Array.from(bytes)
        for (const p of digitPositions.slice(0, -4)) out[p] = STAR
      }
    }
    i = end
  }
  return out ?? bytes
}
