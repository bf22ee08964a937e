/**
 * ANSI SGR escape sequences (colours, bold, underline) of a log line as styled spans,
 * using JupyterLab's own `ansi-*` classes so the colours follow the theme.
 */

const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;]*)([A-Za-z])/g;

export interface IAnsiStyle {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  underline: boolean;
}

export interface IAnsiSpan {
  text: string;
  classes: string;
  style: { color?: string; backgroundColor?: string };
}

const PLAIN: IAnsiStyle = { fg: null, bg: null, bold: false, underline: false };

/** A colour of the 256-colour palette (16-255) as CSS. */
function paletteColor(n: number): string {
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return `rgb(${level},${level},${level})`;
  }
  const c = n - 16;
  const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
  return `rgb(${level(Math.floor(c / 36))},${level(Math.floor(c / 6) % 6)},${level(c % 6)})`;
}

function basicColor(n: number): string {
  return n < 8 ? NAMES[n] : `${NAMES[n - 8]}-intense`;
}

/** An extended colour (`38;5;n` or `38;2;r;g;b`) starting at codes[i]; [colour, next index]. */
function extendedColor(codes: number[], i: number): [string | null, number] {
  if (codes[i + 1] === 5 && codes[i + 2] !== undefined) {
    const n = codes[i + 2];
    return [n < 16 ? `ansi:${basicColor(n)}` : paletteColor(n), i + 3];
  }
  if (codes[i + 1] === 2 && codes[i + 4] !== undefined) {
    return [`rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`, i + 5];
  }
  return [null, i + 1];
}

export function applySgr(style: IAnsiStyle, params: string): IAnsiStyle {
  const codes = params === '' ? [0] : params.split(';').map(Number);
  let next = { ...style };
  let i = 0;
  while (i < codes.length) {
    const code = codes[i];
    if (code === 0) {
      next = { ...PLAIN };
    } else if (code === 1) {
      next.bold = true;
    } else if (code === 22) {
      next.bold = false;
    } else if (code === 4) {
      next.underline = true;
    } else if (code === 24) {
      next.underline = false;
    } else if (code >= 30 && code <= 37) {
      next.fg = `ansi:${basicColor(code - 30)}`;
    } else if (code >= 90 && code <= 97) {
      next.fg = `ansi:${basicColor(code - 90 + 8)}`;
    } else if (code === 39) {
      next.fg = null;
    } else if (code >= 40 && code <= 47) {
      next.bg = `ansi:${basicColor(code - 40)}`;
    } else if (code >= 100 && code <= 107) {
      next.bg = `ansi:${basicColor(code - 100 + 8)}`;
    } else if (code === 49) {
      next.bg = null;
    } else if (code === 38 || code === 48) {
      const [color, after] = extendedColor(codes, i);
      if (code === 38) {
        next.fg = color;
      } else {
        next.bg = color;
      }
      i = after;
      continue;
    }
    i += 1;
  }
  return next;
}

function spanOf(text: string, style: IAnsiStyle): IAnsiSpan {
  const classes: string[] = [];
  const css: IAnsiSpan['style'] = {};
  if (style.fg?.startsWith('ansi:')) {
    classes.push(`ansi-${style.fg.slice(5)}-fg`);
  } else if (style.fg) {
    css.color = style.fg;
  }
  if (style.bg?.startsWith('ansi:')) {
    classes.push(`ansi-${style.bg.slice(5)}-bg`);
  } else if (style.bg) {
    css.backgroundColor = style.bg;
  }
  if (style.bold) {
    classes.push('ansi-bold');
  }
  if (style.underline) {
    classes.push('ansi-underline');
  }
  return { text, classes: classes.join(' '), style: css };
}

/** The spans of one line; escape sequences other than SGR are dropped. */
export function ansiSpans(line: string): IAnsiSpan[] {
  const spans: IAnsiSpan[] = [];
  let style = PLAIN;
  let last = 0;
  ESCAPE.lastIndex = 0;
  for (let match = ESCAPE.exec(line); match; match = ESCAPE.exec(line)) {
    if (match.index > last) {
      spans.push(spanOf(line.slice(last, match.index), style));
    }
    if (match[2] === 'm') {
      style = applySgr(style, match[1]);
    }
    last = ESCAPE.lastIndex;
  }
  if (last < line.length) {
    spans.push(spanOf(line.slice(last), style));
  }
  return spans;
}

/** A line without its escape sequences (what search matches against). */
export function stripAnsi(line: string): string {
  return line.replace(ESCAPE, '');
}
