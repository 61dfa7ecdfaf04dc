import type { FieldReader } from './event-layout.js'

/** The code the compiled window pass runs for one distinct-count group's value set (see distinctSet). */
export interface DistinctSetCode {
  /** Statements that start a pass. */
  readonly declare: readonly string[]
  /** A statement counting `value` (an expression of the field) unless this pass has seen it. */
  add(value: string): string
  /** An expression: the count so far. */
  readonly size: string
  /** The helper the generated code reads as `distinct[g]`. */
  create(): DistinctCodes | DistinctValues
}

/**
 * The value set of distinct-count group `g` reading the field `reader` describes, decided once: for a coded field
 * (country, mcc, channel) a DistinctCodes, whose slot per code holds the stamp of the last pass that saw it; for a
 * hashed field a DistinctValues.
 */
export function distinctSet(reader: FieldReader, g: number): DistinctSetCode {
  if (reader.shift >= 0) {
    return {
      declare: [
        `const seen${g} = distinct[${g}].seen`,
        `const stamp${g} = distinct[${g}].nextStamp()`,
        `let u${g} = 0`,
      ],
      // Without a branch (a value's first sighting is as good as random): counted when its slot held another stamp.
      add: (value) =>
        `const v${g} = ${value}; const x${g} = seen${g}[v${g}] ^ stamp${g}; u${g} += (x${g} | -x${g}) >>> 31; seen${g}[v${g}] = stamp${g}`,
      size: `u${g}`,
      create: () => new DistinctCodes(reader.mask + 1),
    }
  }
  return {
    declare: [`const d${g} = distinct[${g}]`, `d${g}.clear()`],
    add: (value) => `d${g}.add(${value})`,
    size: `d${g}.size`,
    create: () => new DistinctValues(),
  }
}

/**
 * The distinct values of one window pass over a coded field (country, mcc, channel: at most 2^14 values): one slot per
 * code holding the stamp of the last pass that saw it, so a value costs one load and compare, with no search.
 */
export class DistinctCodes {
  readonly seen: Int32Array
  #stamp = 0

  /** `maxStamp`: where stamps wrap around (tests lower it). */
  constructor(
    codes: number,
    readonly maxStamp = 0x7fffffff,
  ) {
    this.seen = new Int32Array(codes)
  }

  /** A stamp no slot holds yet: every code is unseen for the new pass. */
  nextStamp(): number {
    if (this.#stamp === this.maxStamp) {
      this.seen.fill(0)
      this.#stamp = 0
    }
    return ++this.#stamp
  }
}

const SMALL_DISTINCT = 64

/**
 * The distinct values of one window pass: a small array searched linearly (faster than a Set for the few values a
 * card's window holds), a Set past 64. NaN (an absent optional field) is never counted.
 */
export class DistinctValues {
  readonly #small = new Float64Array(SMALL_DISTINCT)
  #count = 0
  #overflow: Set<number> | undefined

  get size(): number {
    return this.#overflow ? this.#overflow.size : this.#count
  }

  clear(): void {
    this.#count = 0
    this.#overflow = undefined
  }

  add(value: number): void {
    if (value !== value) return
    if (this.#overflow) {
      this.#overflow.add(value)
      return
    }
    for (let j = 0; j < this.#count; j++) if (this.#small[j] === value) return
    if (this.#count < SMALL_DISTINCT) this.#small[this.#count++] = value
    else {
      this.#overflow = new Set(this.#small)
      this.#overflow.add(value)
    }
  }
}
