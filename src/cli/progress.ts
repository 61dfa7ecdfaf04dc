/**
 * Live progress: on a terminal, a block of lines redrawn in place; piped, one plain line per interval so logs
 * and CI output stay readable.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream
  readonly #interactive: boolean
  #drawnLines = 0
  #lastPlainMs = 0

  constructor(options: { stream?: NodeJS.WriteStream; plainIntervalMs?: number } = {}) {
    this.#stream = options.stream ?? process.stderr
    this.#interactive = Boolean(this.#stream.isTTY) && process.env.TERM !== 'dumb'
    this.plainIntervalMs = options.plainIntervalMs ?? 2_000
  }

  readonly plainIntervalMs: number

  get interactive(): boolean {
    return this.#interactive
  }

  /** `block` is the terminal view; `line` the one-line form for pipes. */
  update(block: readonly string[], line: string): void {
    if (this.#interactive) {
      const up = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}A` : ''
      this.#stream.write(`${up}${block.map((l) => `\x1b[2K${l}`).join('\n')}\n`)
      this.#drawnLines = block.length
      return
    }
    const now = performance.now()
    if (now - this.#lastPlainMs >= this.plainIntervalMs) {
      this.#lastPlainMs = now
      this.#stream.write(`${line}\n`)
    }
  }

  /** A message above the live block, which is redrawn below it on the next update. */
  note(text: string): void {
    this.#stream.write(`${text}\n`)
    this.#drawnLines = 0
  }

  /** Leaves the last block on screen; later output starts below it. */
  done(): void {
    this.#drawnLines = 0
  }
}
