/**
 * A run's log as lines, read from the server by byte offset: the whole of it in 1 MB
 * steps, then the growing tail once a second until the run ended and all was read.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { MantikApi, RunState } from './api';

const STEP = 1 << 20;
const TAIL_MS = 1000;
const RETRY_MS = 5000;

export class LogBuffer implements IDisposable {
  constructor(
    private readonly _api: MantikApi,
    readonly runId: string
  ) {
    void this._read();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The lines so far; the last one may still grow. */
  get lines(): readonly string[] {
    return this._lines;
  }

  get bytes(): number {
    return this._offset;
  }

  get eof(): boolean {
    return this._eof;
  }

  get state(): RunState | null {
    return this._state;
  }

  get error(): string | null {
    return this._error;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private async _read(): Promise<void> {
    if (this._disposed) {
      return;
    }
    let wait = TAIL_MS;
    try {
      const chunk = await this._api.logs(this.runId, this._offset, STEP);
      if (this._disposed) {
        return;
      }
      if (chunk.data) {
        appendText(this._lines, chunk.data);
      }
      this._offset = chunk.next_offset;
      this._eof = chunk.eof;
      this._state = chunk.state;
      this._error = null;
      this._changed.emit();
      if (this._eof) {
        return;
      }
      wait = chunk.next_offset - chunk.offset >= STEP ? 0 : TAIL_MS;
    } catch (error) {
      this._error = String((error as Error).message ?? error);
      this._changed.emit();
      wait = RETRY_MS;
    }
    this._timer = window.setTimeout(() => void this._read(), wait);
  }

  private _lines: string[] = [''];
  private _offset = 0;
  private _eof = false;
  private _state: RunState | null = null;
  private _error: string | null = null;
  private _timer = 0;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * Add a chunk of log text to the lines read so far (at least one, maybe ''): its first piece
 * continues the last line, which the previous chunk may have cut anywhere.
 */
export function appendText(lines: string[], data: string): void {
  const pieces = data.split('\n');
  pieces[0] = lines.pop() + pieces[0];
  const open = pieces.length - 1;
  pieces.forEach((piece, i) => {
    // a carriage return that ends the open line stays, for the text that the next chunk
    // may write over it (or a newline that makes it a CRLF)
    const cr = i === open && piece.endsWith('\r') ? '\r' : '';
    lines.push(overwrite(piece) + cr);
  });
}

/** A terminal's reading of a line with carriage returns: what the last one wrote. */
function overwrite(line: string): string {
  const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cr = trimmed.lastIndexOf('\r');
  return cr < 0 ? trimmed : trimmed.slice(cr + 1);
}
