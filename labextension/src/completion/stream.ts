/**
 * The server's answer to a completion request (POST /autocoder/api/complete): NDJSON
 * lines, `{"text": ...}` pieces of the middle, then `{"done": true, ...}` or
 * `{"error": ...}`. Read piece by piece, as the ghost text grows.
 */

/** One line of the answer. */
export interface ICompletionEvent {
  text?: string;
  done?: boolean;
  reason?: string;
  error?: string;
  first_text_seconds?: number | null;
  seconds?: number;
}

/** The part of a fetch response's body the reader uses (a ReadableStream has it). */
export interface IByteSource {
  getReader(): {
    read(): Promise<{ value?: Uint8Array; done: boolean }>;
    cancel(): Promise<void>;
  };
}

/** Reads a completion answer: the text so far, and the pieces still to come. */
export class CompletionReader {
  constructor(body: IByteSource) {
    this._reader = body.getReader();
  }

  /** All the text read so far. */
  get text(): string {
    return this._text;
  }

  /** True once the answer has ended (done, error, or the connection closed). */
  get finished(): boolean {
    return this._finished;
  }

  /** The last line: why the answer ended, and its timings. */
  get last(): ICompletionEvent | null {
    return this._last;
  }

  /** The next piece of text; null at the end. */
  async next(): Promise<string | null> {
    while (!this._finished) {
      const newline = this._buffer.indexOf('\n');
      if (newline >= 0) {
        const line = this._buffer.slice(0, newline).trim();
        this._buffer = this._buffer.slice(newline + 1);
        const piece = this._take(line);
        if (piece) {
          return piece;
        }
        continue;
      }
      const { value, done } = await this._reader.read();
      if (done) {
        this._take(this._buffer.trim());
        this._finished = true;
        break;
      }
      this._buffer += this._decoder.decode(value, { stream: true });
    }
    return null;
  }

  /** Stop reading: the connection closes, and the server stops the model. */
  async cancel(): Promise<void> {
    this._finished = true;
    try {
      await this._reader.cancel();
    } catch {
      // already closed
    }
  }

  private _take(line: string): string {
    if (!line) {
      return '';
    }
    let event: ICompletionEvent;
    try {
      event = JSON.parse(line) as ICompletionEvent;
    } catch {
      return ''; // not ours: ignore it rather than show it
    }
    if (event.done || event.error) {
      this._last = event;
      this._finished = true;
      return '';
    }
    const text = typeof event.text === 'string' ? event.text : '';
    this._text += text;
    return text;
  }

  private _reader: ReturnType<IByteSource['getReader']>;
  private _decoder = new TextDecoder();
  private _buffer = '';
  private _text = '';
  private _finished = false;
  private _last: ICompletionEvent | null = null;
}
