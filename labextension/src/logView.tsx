/**
 * The live log viewer: windowed lines with ANSI colours, follows the tail until the user
 * pauses (or scrolls up), searches across all lines.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';

import { ansiSpans, stripAnsi } from './ansi';
import { formatBytes } from './format';
import { LogBuffer } from './logBuffer';
import { WindowedList } from './windowedList';

export interface ILogViewProps {
  buffer: LogBuffer;
  fontSize: number;
  trans: TranslationBundle;
}

interface IState {
  follow: boolean;
  query: string;
  matches: number[];
  current: number;
  version: number;
}

const SEARCH_DELAY_MS = 200;

export class LogView extends React.Component<ILogViewProps, IState> {
  state: IState = { follow: true, query: '', matches: [], current: -1, version: 0 };

  componentDidMount(): void {
    this.props.buffer.changed.connect(this._onChanged, this);
  }

  componentWillUnmount(): void {
    this.props.buffer.changed.disconnect(this._onChanged, this);
    window.clearTimeout(this._searchTimer);
  }

  componentDidUpdate(): void {
    if (this.state.follow) {
      this._list.current?.scrollToBottom();
    }
  }

  render(): React.ReactNode {
    const { buffer, fontSize, trans } = this.props;
    const { follow, query, matches, current, version } = this.state;
    const rowHeight = Math.round(fontSize * 1.5);
    const matched = new Set(matches);
    const currentLine = matches[current];
    const status = buffer.error
      ? trans.__('Log unavailable: %1', buffer.error)
      : buffer.eof
        ? trans.__('%1 – complete', formatBytes(buffer.bytes))
        : trans.__('%1 – following', formatBytes(buffer.bytes));
    return (
      <div className="jp-MantikLog" style={{ fontSize }}>
        <div className="jp-MantikLog-toolbar">
          <button
            className="jp-Button jp-mod-styled jp-mod-reject jp-MantikLog-follow"
            onClick={() => this.setState({ follow: !follow })}
            title={follow ? trans.__('Stop scrolling to the end') : trans.__('Follow the end')}
          >
            {follow ? trans.__('Pause') : trans.__('Resume')}
          </button>
          <input
            className="jp-MantikLog-search jp-mod-styled"
            type="search"
            placeholder={trans.__('Search the log')}
            value={query}
            onChange={event => this._setQuery(event.target.value)}
            onKeyDown={event => {
              if (event.key === 'Enter') {
                this._step(event.shiftKey ? -1 : 1);
              }
            }}
          />
          <span className="jp-MantikLog-matches">
            {query ? trans.__('%1 of %2', matches.length ? current + 1 : 0, matches.length) : ''}
          </span>
          <button
            className="jp-Button jp-mod-styled jp-mod-reject"
            disabled={!matches.length}
            onClick={() => this._step(-1)}
            title={trans.__('Previous match')}
          >
            ↑
          </button>
          <button
            className="jp-Button jp-mod-styled jp-mod-reject"
            disabled={!matches.length}
            onClick={() => this._step(1)}
            title={trans.__('Next match')}
          >
            ↓
          </button>
          <span className="jp-MantikLog-status">{status}</span>
        </div>
        <WindowedList
          ref={this._list}
          className="jp-MantikLog-lines jp-RenderedText"
          items={buffer.lines}
          rowHeight={rowHeight}
          version={version}
          onScroll={atBottom => {
            if (!atBottom && follow && !this._scrolling) {
              this.setState({ follow: false });
            }
          }}
          renderRow={(line, index) => (
            <pre
              className={
                'jp-MantikLog-line' +
                (matched.has(index) ? ' jp-mod-match' : '') +
                (index === currentLine ? ' jp-mod-current' : '')
              }
              style={{ lineHeight: `${rowHeight}px` }}
            >
              {ansiSpans(line).map((span, i) => (
                <span key={i} className={span.classes} style={span.style}>
                  {span.text}
                </span>
              ))}
            </pre>
          )}
        />
      </div>
    );
  }

  private _onChanged(): void {
    this._scrolling = this.state.follow;
    if (this.state.query) {
      this._search(this.state.query, false);
    }
    this.setState(state => ({ version: state.version + 1 }));
    window.setTimeout(() => (this._scrolling = false), 50);
  }

  private _setQuery(query: string): void {
    this.setState({ query });
    window.clearTimeout(this._searchTimer);
    this._searchTimer = window.setTimeout(() => this._search(query, true), SEARCH_DELAY_MS);
  }

  /**
   * Lines holding the query (case-insensitive, escape sequences ignored). A new query
   * scans every line; new log text only the lines added since (and the last, which grows).
   */
  private _search(query: string, jump: boolean): void {
    const needle = query.toLowerCase();
    const lines = this.props.buffer.lines;
    const from = jump ? 0 : Math.max(0, this._searched - 1);
    const matches = jump ? [] : this.state.matches.filter(i => i < from);
    if (needle) {
      for (let i = from; i < lines.length; i++) {
        if (stripAnsi(lines[i]).toLowerCase().includes(needle)) {
          matches.push(i);
        }
      }
    }
    this._searched = lines.length;
    if (jump) {
      this.setState({ matches, current: matches.length ? 0 : -1 });
      if (matches.length) {
        this.setState({ follow: false });
        this._list.current?.scrollToIndex(matches[0]);
      }
    } else {
      this.setState({ matches, current: matches.length ? Math.max(0, this.state.current) : -1 });
    }
  }

  private _step(direction: number): void {
    const { matches, current } = this.state;
    if (!matches.length) {
      return;
    }
    const next = (current + direction + matches.length) % matches.length;
    this.setState({ current: next, follow: false });
    this._list.current?.scrollToIndex(matches[next]);
  }

  private _list = React.createRef<WindowedList<string>>();
  private _searchTimer = 0;
  private _searched = 0;
  private _scrolling = false;
}
