import type { Harness, Test } from './harness.js';
import { delay, rejectsWithCode } from './helpers.js';

export function serverTests(test: Test, h: Harness): void {
  test(`${h.name} servers: announce, heartbeat, list and remove`, async (t) => {
    const s = await h.storage();
    await s.servers.announce('srv-1', { queues: ['critical', 'default'], workerCount: 4 });
    const [rec] = await s.servers.list();
    t.is(rec!.id, 'srv-1');
    t.deepEqual(rec!.queues, ['critical', 'default']);
    t.is(rec!.workerCount, 4);
    const firstBeat = rec!.heartbeatAt.getTime();
    await delay(30);
    await s.servers.heartbeat('srv-1');
    const [after] = await s.servers.list();
    t.true(after!.heartbeatAt.getTime() > firstBeat);
    t.is(after!.startedAt.getTime(), rec!.startedAt.getTime());
    await s.servers.remove('srv-1');
    t.deepEqual(await s.servers.list(), []);
    await rejectsWithCode(t, s.servers.heartbeat('srv-1'), 'SERVER_GONE');
  });

  test(`${h.name} servers: removeTimedOut removes only silent servers and counts them`, async (t) => {
    const s = await h.storage();
    await s.servers.announce('silent', { queues: ['default'], workerCount: 1 });
    await s.servers.announce('alive', { queues: ['default'], workerCount: 1 });
    await delay(1_500);
    await s.servers.heartbeat('alive');
    t.is(await s.servers.removeTimedOut(1_000), 1);
    t.deepEqual(
      (await s.servers.list()).map((x) => x.id),
      ['alive'],
    );
    await rejectsWithCode(t, s.servers.heartbeat('silent'), 'SERVER_GONE');
    t.is(await s.servers.removeTimedOut(60_000), 0);
  });
}
