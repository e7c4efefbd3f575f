import { backendTests } from './backend.js';
import { badInputTests } from './bad-input.js';
import { concurrencyTests } from './concurrency.js';
import { dataTests } from './data.js';
import { fetchSetStateTests } from './fetch-set-state.js';
import type { Harness, Test } from './harness.js';
import { isolationTests } from './isolation.js';
import { jobTests } from './jobs.js';
import { lockTests } from './locks.js';
import { monitoringTests } from './monitoring.js';
import { operatorReadTests } from './operator-reads.js';
import { ownershipTests } from './ownership.js';
import { queueTests } from './queues.js';
import { removeFromQueueTests } from './remove-from-queue.js';
import { serverTests } from './servers.js';
import { transactionTests } from './transactions.js';
import { unitStreamTests } from './unit-stream.js';
import { workIndexTests } from './work-index.js';

export type { Harness } from './harness.js';

/** Registers the whole contract's tests against one implementation. Not an ava entry file itself. */
export function runConformance(test: Test, harness: Harness): void {
  jobTests(test, harness);
  queueTests(test, harness);
  fetchSetStateTests(test, harness);
  lockTests(test, harness);
  dataTests(test, harness);
  transactionTests(test, harness);
  removeFromQueueTests(test, harness);
  concurrencyTests(test, harness);
  serverTests(test, harness);
  monitoringTests(test, harness);
  isolationTests(test, harness);
  badInputTests(test, harness);
  if (harness.backend) {
    backendTests(test, harness.name, harness.backend);
    ownershipTests(test, harness.name, harness.backend);
    unitStreamTests(test, harness.name, harness.backend);
    workIndexTests(test, harness.name, harness.backend);
    operatorReadTests(test, harness.name, harness.backend);
  }
  test.after.always(() => harness.teardown());
}
