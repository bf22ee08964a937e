import {
  formatBytes,
  formatDuration,
  formatProgress,
  formatSeconds,
  parseTime,
  progressShare
} from '../src/format';

describe('parseTime', () => {
  it('reads the server times without a zone as UTC', () => {
    expect(parseTime('2026-01-02T03:04:05')?.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(parseTime('2026-01-02T03:04:05+01:00')?.toISOString()).toBe(
      '2026-01-02T02:04:05.000Z'
    );
    expect(parseTime('2026-01-02T03:04:05Z')?.toISOString()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('gives null for no time or a wrong one', () => {
    expect(parseTime(null)).toBeNull();
    expect(parseTime('')).toBeNull();
    expect(parseTime('yesterday')).toBeNull();
  });
});

describe('formatSeconds', () => {
  it.each([
    [0, '0s'],
    [45.4, '45s'],
    [59.6, '1m 00s'],
    [60, '1m 00s'],
    [185, '3m 05s'],
    [3600, '1h 00m'],
    [7260, '2h 01m'],
    [86400 + 7200, '1d 02h'],
    [-5, '0s']
  ])('%p seconds as %p', (seconds, text) => {
    expect(formatSeconds(seconds)).toBe(text);
  });
});

describe('formatDuration', () => {
  it('is the time between start and end, or a dash before the start', () => {
    expect(formatDuration('2026-01-02T03:04:05', '2026-01-02T03:06:10')).toBe('2m 05s');
    expect(formatDuration(null, null)).toBe('–');
  });

  it('runs until now while the run runs', () => {
    jest.useFakeTimers({ now: new Date('2026-01-02T03:05:35Z') });
    try {
      expect(formatDuration('2026-01-02T03:04:05', null)).toBe('1m 30s');
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KB'],
    [48213, '47.1 KB'],
    [5 * 1024 ** 3, '5.0 GB'],
    [3 * 1024 ** 5, '3072.0 TB']
  ])('%p bytes as %p', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('submission progress', () => {
  const p = {
    phase: 'uploading',
    bytes_done: 15 * 1024 * 1024,
    bytes_total: 60 * 1024 * 1024,
    files_done: 1,
    files_total: 3,
    rate: 4 * 1024 * 1024
  };

  it('takes the share from bytes, else files, else 0', () => {
    expect(progressShare(p)).toBe(0.25);
    expect(progressShare({ ...p, bytes_total: 0 })).toBeCloseTo(1 / 3);
    expect(progressShare({ ...p, bytes_total: 0, files_total: 0 })).toBe(0);
    expect(progressShare({ ...p, bytes_done: 2 * p.bytes_total })).toBe(1);
  });

  it('says phase, bytes, files and rate', () => {
    expect(formatProgress(p)).toBe('uploading 15.0 MB of 60.0 MB, 1 of 3 files, 4.0 MB/s');
    expect(formatProgress({ ...p, phase: 'submitting', bytes_total: 0, files_total: 0, rate: 0 }))
      .toBe('submitting');
  });
});
