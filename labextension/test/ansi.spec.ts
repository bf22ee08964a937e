import { IAnsiStyle, ansiSpans, applySgr, stripAnsi } from '../src/ansi';

const PLAIN: IAnsiStyle = { fg: null, bg: null, bold: false, underline: false };

describe('ansiSpans', () => {
  it('gives a plain line as one unstyled span', () => {
    expect(ansiSpans('hello')).toEqual([{ text: 'hello', classes: '', style: {} }]);
    expect(ansiSpans('')).toEqual([]);
  });

  it("maps the basic colours to JupyterLab's ansi classes and resets on 0", () => {
    expect(ansiSpans('\x1b[31mred\x1b[0m plain \x1b[1;94mbold\x1b[m')).toEqual([
      { text: 'red', classes: 'ansi-red-fg', style: {} },
      { text: ' plain ', classes: '', style: {} },
      { text: 'bold', classes: 'ansi-blue-intense-fg ansi-bold', style: {} }
    ]);
  });

  it('shows 256-colour and true-colour codes as CSS colours', () => {
    expect(ansiSpans('\x1b[38;5;196mx\x1b[48;2;1;2;3my')).toEqual([
      { text: 'x', classes: '', style: { color: 'rgb(255,0,0)' } },
      { text: 'y', classes: '', style: { color: 'rgb(255,0,0)', backgroundColor: 'rgb(1,2,3)' } }
    ]);
    expect(ansiSpans('\x1b[38;5;2mg')[0].classes).toBe('ansi-green-fg');
    expect(ansiSpans('\x1b[38;5;244mg')[0].style).toEqual({ color: 'rgb(128,128,128)' });
  });

  it('drops escape sequences other than SGR', () => {
    expect(ansiSpans('a\x1b[2Kb\x1b[1Ac')).toEqual([
      { text: 'a', classes: '', style: {} },
      { text: 'b', classes: '', style: {} },
      { text: 'c', classes: '', style: {} }
    ]);
  });
});

describe('applySgr', () => {
  it('turns attributes on and off without touching the others', () => {
    const styled = applySgr(PLAIN, '1;4;32;41');
    expect(styled).toEqual({ fg: 'ansi:green', bg: 'ansi:red', bold: true, underline: true });
    expect(applySgr(styled, '22;24;39')).toEqual({ ...PLAIN, bg: 'ansi:red' });
    expect(applySgr(styled, '49')).toEqual({ ...styled, bg: null });
    expect(PLAIN).toEqual({ fg: null, bg: null, bold: false, underline: false });
  });

  it('ignores an incomplete extended colour', () => {
    expect(applySgr(PLAIN, '38;5')).toEqual(PLAIN);
  });
});

describe('stripAnsi', () => {
  it('leaves the text a search matches', () => {
    expect(stripAnsi('\x1b[1;31mError\x1b[0m: \x1b[2Kboom')).toBe('Error: boom');
  });
});
