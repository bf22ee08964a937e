import { appendText } from '../src/logBuffer';

/** The lines a log reads as when it arrives in the given chunks. */
function read(...chunks: string[]): string[] {
  const lines = [''];
  chunks.forEach(chunk => appendText(lines, chunk));
  return lines;
}

describe('appendText', () => {
  it('splits a chunk into lines, the last one open', () => {
    expect(read('one\ntwo\nthr')).toEqual(['one', 'two', 'thr']);
    expect(read('one\n')).toEqual(['one', '']);
  });

  it('continues a line that the previous chunk cut', () => {
    expect(read('epoch 1 lo', 'ss 0.5\nepoch 2\n')).toEqual(['epoch 1 loss 0.5', 'epoch 2', '']);
  });

  it('reads CRLF line ends as plain ones, also when a chunk ends between CR and LF', () => {
    expect(read('a\r\nb\r\n')).toEqual(['a', 'b', '']);
    expect(read('a\r', '\nb')).toEqual(['a', 'b']);
  });

  it('keeps what the last carriage return wrote, as a terminal shows a progress bar', () => {
    expect(read('10%\r50%\r100%\ndone\n')).toEqual(['100%', 'done', '']);
    expect(read('\r10%', '\r50%', '\r100%\n')).toEqual(['100%', '']);
  });

  it('overwrites a line whose carriage return ended the previous chunk', () => {
    const lines = read('10%\r');
    expect(lines[0].trimEnd()).toBe('10%');
    appendText(lines, '20%\n');
    expect(lines).toEqual(['20%', '']);
  });

  it('keeps empty lines and an empty chunk changes nothing', () => {
    expect(read('a\n\n\nb', '')).toEqual(['a', '', '', 'b']);
  });
});
