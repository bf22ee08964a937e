/** How times, durations, sizes and progress are shown. */
import { IProgress } from './api';

export function parseTime(value: string | null): Date | null {
  if (!value) {
    return null;
  }
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return isNaN(date.getTime()) ? null : date;
}

export function formatTime(value: string | null): string {
  const date = parseTime(value);
  if (!date) {
    return '–';
  }
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? date.toLocaleTimeString() : date.toLocaleString();
}

/** Seconds as 45s, 3m 05s, 2h 01m or 1d 02h. */
export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.round(total));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  }
  return `${Math.floor(s / 86400)}d ${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** How long a run ran (until now while it runs), or '–' before it started. */
export function formatDuration(started: string | null, ended: string | null): string {
  const start = parseTime(started);
  if (!start) {
    return '–';
  }
  const end = parseTime(ended) ?? new Date();
  return formatSeconds((end.getTime() - start.getTime()) / 1000);
}

/** The share of a submission's phase done, 0 to 1 (bytes, else files; 0 when unknown). */
export function progressShare(p: IProgress): number {
  if (p.bytes_total > 0) {
    return Math.min(1, p.bytes_done / p.bytes_total);
  }
  return p.files_total > 0 ? Math.min(1, p.files_done / p.files_total) : 0;
}

/** A submission's progress in words: "uploading 12.0 MB of 60.0 MB, 1 of 2 files, 4.0 MB/s". */
export function formatProgress(p: IProgress): string {
  const parts = [p.phase];
  if (p.bytes_total > 0) {
    parts.push(`${formatBytes(p.bytes_done)} of ${formatBytes(p.bytes_total)}`);
  }
  const detail = [];
  if (p.files_total > 0) {
    detail.push(`${p.files_done} of ${p.files_total} files`);
  }
  if (p.rate > 0) {
    detail.push(`${formatBytes(p.rate)}/s`);
  }
  return [parts.join(' '), ...detail].join(', ');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
