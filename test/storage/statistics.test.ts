import test from 'ava';
import { statsKeys } from '../../src/storage/statistics.js';

test('statsKeys: day and hour keys follow the date, across hours, days and back again', (t) => {
  const at = (iso: string) => statsKeys('succeeded', new Date(iso));
  t.deepEqual({ ...at('2026-12-01T23:59:59.999Z') }, { total: 'stats:succeeded', day: 'stats:succeeded:2026-12-01', hour: 'stats:succeeded:2026-12-01T23' });
  t.deepEqual({ ...at('2026-12-02T00:00:00.000Z') }, { total: 'stats:succeeded', day: 'stats:succeeded:2026-12-02', hour: 'stats:succeeded:2026-12-02T00' });
  t.is(at('2026-12-01T23:00:00.000Z').hour, 'stats:succeeded:2026-12-01T23');
  t.is(statsKeys('failed', new Date('2026-12-02T00:30:00Z')).day, 'stats:failed:2026-12-02');
});
