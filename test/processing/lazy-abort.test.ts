import test from 'ava';
import { LazyAbort } from '../../src/processing/lazy-abort.js';

test('a signal read before the abort sees it, with the reason', (t) => {
  const a = new LazyAbort();
  const signal = a.signal;
  let heard: unknown;
  signal.addEventListener('abort', () => (heard = signal.reason));
  t.false(signal.aborted);
  const reason = new Error('lease lost');
  a.abort(reason);
  t.true(a.aborted);
  t.is(heard, reason);
  t.is(a.signal, signal, 'one signal for the job');
});

test('a signal first read after the abort is already aborted, with the first reason', (t) => {
  const a = new LazyAbort();
  const first = new Error('server stopping');
  a.abort(first);
  a.abort(new Error('second'));
  t.true(a.signal.aborted);
  t.is(a.signal.reason, first);
});
