/**
 * A list that renders only the rows in view (fixed row height), so tens of thousands of
 * runs or hundreds of thousands of log lines scroll without a frozen tab.
 */
import React from 'react';

const OVERSCAN = 10;

export interface IWindowedListProps<T> {
  items: readonly T[];
  rowHeight: number;
  renderRow: (item: T, index: number) => React.ReactNode;
  className?: string;
  /** Called when the view comes within a screen of the end (to load the next page). */
  onNearEnd?: () => void;
  /** Called on every scroll with whether the view is at the bottom. */
  onScroll?: (atBottom: boolean) => void;
  /** Extra value whose change must re-render visible rows (e.g. a search term). */
  version?: unknown;
  /** A value whose change scrolls back to the top (e.g. the filter of the list). */
  resetKey?: string;
}

interface IState {
  scrollTop: number;
  height: number;
}

export class WindowedList<T> extends React.Component<IWindowedListProps<T>, IState> {
  state: IState = { scrollTop: 0, height: 0 };

  componentDidMount(): void {
    const node = this._ref.current;
    if (node) {
      this._observer = new ResizeObserver(() => this.setState({ height: node.clientHeight }));
      this._observer.observe(node);
      this.setState({ height: node.clientHeight });
    }
  }

  componentWillUnmount(): void {
    this._observer?.disconnect();
  }

  componentDidUpdate(previous: IWindowedListProps<T>): void {
    const node = this._ref.current;
    if (node && previous.resetKey !== this.props.resetKey) {
      node.scrollTop = 0;
    }
    this._checkNearEnd();
  }

  scrollToIndex(index: number): void {
    const node = this._ref.current;
    if (!node) {
      return;
    }
    const top = index * this.props.rowHeight;
    if (top < node.scrollTop || top + this.props.rowHeight > node.scrollTop + node.clientHeight) {
      node.scrollTop = Math.max(0, top - node.clientHeight / 2);
    }
  }

  scrollToBottom(): void {
    const node = this._ref.current;
    if (node) {
      node.scrollTop = node.scrollHeight;
    }
  }

  render(): React.ReactNode {
    const { items, rowHeight, renderRow, className } = this.props;
    const { scrollTop, height } = this.state;
    const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
    const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + OVERSCAN);
    const rows: React.ReactNode[] = [];
    for (let i = first; i < last; i++) {
      rows.push(
        <div
          key={i}
          className="jp-MantikWindowedList-row"
          style={{ top: i * rowHeight, height: rowHeight }}
        >
          {renderRow(items[i], i)}
        </div>
      );
    }
    return (
      <div
        ref={this._ref}
        className={`jp-MantikWindowedList ${className ?? ''}`}
        onScroll={this._onScroll}
      >
        <div
          className="jp-MantikWindowedList-inner"
          style={{ height: items.length * rowHeight }}
        >
          {rows}
        </div>
      </div>
    );
  }

  private _onScroll = (): void => {
    const node = this._ref.current;
    if (!node) {
      return;
    }
    this.setState({ scrollTop: node.scrollTop });
    this.props.onScroll?.(node.scrollTop + node.clientHeight >= node.scrollHeight - 4);
  };

  private _checkNearEnd(): void {
    const { items, rowHeight, onNearEnd } = this.props;
    const { scrollTop, height } = this.state;
    if (onNearEnd && height > 0 && items.length * rowHeight - (scrollTop + height) < height) {
      onNearEnd();
    }
  }

  private _ref = React.createRef<HTMLDivElement>();
  private _observer: ResizeObserver | null = null;
}
