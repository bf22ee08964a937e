import { buildSubmission, initialValues, scheduleOf } from '../src/submitForm';

describe('the submit form\'s "when"', () => {
  const fresh = initialValues('local', []);

  it('sends no schedule for "now"', () => {
    expect(buildSubmission(fresh, {}).schedule).toBeUndefined();
  });

  it('sends a local time "at" as an ISO time the server reads with its offset', () => {
    const values = { ...fresh, when: 'at' as const, at: '2030-05-06T07:08' };
    expect(scheduleOf(values)).toEqual({ At: new Date('2030-05-06T07:08').toISOString() });
  });

  it('sends "repeat" as a cron in the chosen zone, the browser\'s by default', () => {
    const values = { ...fresh, when: 'repeat' as const, cron: ' 0 3 * * 1 ', timezone: '' };
    expect(scheduleOf(values)).toEqual({ Cron: '0 3 * * 1', Timezone: fresh.timezone });
    expect(fresh.timezone).not.toBe('');
    const berlin = { ...values, timezone: 'Europe/Berlin' };
    expect(buildSubmission(berlin, {}).schedule).toEqual({
      Cron: '0 3 * * 1',
      Timezone: 'Europe/Berlin'
    });
  });

  it('never sends a schedule with a re-run, nor keeps the run\'s start time', () => {
    const values = { ...fresh, when: 'repeat' as const, cron: '0 3 * * 1' };
    expect(buildSubmission(values, {}, {}).schedule).toBeUndefined();
    const edited = { Schedule: { At: '2030-01-01T00:00:00+00:00' }, Name: 'x' };
    expect(buildSubmission(values, {}, edited).config).toEqual({ Name: 'x' });
  });
});
