import type { Harness, Test } from './harness.js';
import { delay, rejectsWithCode } from './helpers.js';

export function lockTests(test: Test, h: Harness): void {
  test(`${h.name} locks: 20 contenders, no lost update, tokens strictly increasing`, async (t) => {
    const s = await h.storage();
    const tokens: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const lock = await s.locks.acquire('counter-lock', { timeoutMs: 20_000, ttlMs: 5_000 });
        try {
          tokens.push(lock.token);
          // Read-modify-write through the storage: without mutual exclusion updates are lost.
          const current = Number((await s.data.hashGet('shared', 'value')) ?? '0');
          await delay(Math.random() * 3);
          await s.transaction((tx) => tx.hashSet('shared', { value: String(current + 1) }));
        } finally {
          await lock.release();
        }
      }),
    );
    t.is(await s.data.hashGet('shared', 'value'), '20');
    t.is(tokens.length, 20);
    for (let i = 1; i < tokens.length; i++) t.true(tokens[i]! > tokens[i - 1]!, `token ${tokens[i]} after ${tokens[i - 1]}`);
  });

  test(`${h.name} locks: a held lock times out other acquirers with LockTimeoutError`, async (t) => {
    const s = await h.storage();
    const held = await s.locks.acquire('busy', { timeoutMs: 1_000 });
    const started = Date.now();
    const err = await rejectsWithCode(t, s.locks.acquire('busy', { timeoutMs: 150 }), 'LOCK_TIMEOUT');
    t.true(Date.now() - started >= 140);
    t.regex(err.message, /busy/);
    await rejectsWithCode(t, s.locks.acquire('busy', { timeoutMs: 0 }), 'LOCK_TIMEOUT');
    const other = await s.locks.acquire('other-resource', { timeoutMs: 0 });
    await other.release();
    await held.release();
    const next = await s.locks.acquire('busy', { timeoutMs: 0 });
    t.true(next.token > held.token);
    await next.release();
  });

  test(`${h.name} locks: an expired lease lets the next holder in, and the old holder cannot touch it`, async (t) => {
    const s = await h.storage();
    // Timed from before the first grant: its lease runs 200 ms from a moment no earlier than this,
    // and a late resumption of this test under load cannot shorten the measured wait.
    const requested = Date.now();
    const first = await s.locks.acquire('lease', { timeoutMs: 0, ttlMs: 200, autoRenew: false });
    const second = await s.locks.acquire('lease', { timeoutMs: 3_000, ttlMs: 5_000 });
    const waited = Date.now() - requested;
    t.true(waited >= 195, `the second grant came ${waited} ms after the first was asked for, before its 200 ms lease lapsed`);
    t.true(second.token > first.token);
    await rejectsWithCode(t, first.extend(), 'LEASE_LOST');
    await first.release(); // must not release the second holder's grant
    await rejectsWithCode(t, s.locks.acquire('lease', { timeoutMs: 0 }), 'LOCK_TIMEOUT');
    await second.release();
  });

  test(`${h.name} locks: a live holder's lease is renewed automatically`, async (t) => {
    const s = await h.storage();
    // Over twice the ttl, so only renewals keep it; a ttl of 3 s, since a loaded 2-core run (crash
    // tests SIGKILLing children beside it) stalled a 1.5 s lease's renewals past its end.
    const holder = await s.locks.acquire('renewed', { timeoutMs: 0, ttlMs: 3_000 });
    await delay(7_000);
    await rejectsWithCode(t, s.locks.acquire('renewed', { timeoutMs: 0 }), 'LOCK_TIMEOUT');
    t.false(holder.signal.aborted);
    await holder.release();
    const next = await s.locks.acquire('renewed', { timeoutMs: 0 });
    await next.release();
    t.pass();
  });

  test(`${h.name} locks: a release racing the holder's renewal leaves the lock free at once`, async (t) => {
    const s = await h.storage();
    // Renewals every 10 ms: many releases land while one is in flight. On Postgres a renewal run
    // after the release revived the lease, and the next acquire failed for a ttl.
    for (let i = 0; i < 40; i++) {
      const holder = await s.locks.acquire('racing', { timeoutMs: 0, ttlMs: 30 });
      await delay(Math.floor(Math.random() * 25));
      await holder.release();
      const next = await s.locks.acquire('racing', { timeoutMs: 0, ttlMs: 60_000, autoRenew: false });
      await next.release();
    }
    t.pass();
  });

  test(`${h.name} locks: extend pushes a bare lease`, async (t) => {
    const s = await h.storage();
    // Wide margins: under a loaded test run a 500 ms delay can take much longer.
    const lock = await s.locks.acquire('bare', { timeoutMs: 0, ttlMs: 2_000, autoRenew: false });
    await delay(500);
    await lock.extend(4_000);
    await delay(2_000); // past the first lease, well inside the extended one
    await rejectsWithCode(t, s.locks.acquire('bare', { timeoutMs: 0 }), 'LOCK_TIMEOUT');
    await lock.release();
    await lock.release(); // idempotent
    const next = await s.locks.acquire('bare', { timeoutMs: 0 });
    await next.release();
  });
}
