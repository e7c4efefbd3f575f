import type { TestFn } from 'ava';
import type { Backend, Storage } from '../../src/storage/storage.js';

/** How the suite reaches one implementation of the contract. */
export interface Harness {
  name: string;
  /** A storage no other test sees (a fresh namespace, schema, prefix or tenant). */
  storage(): Promise<Storage>;
  /** Two storages that must be isolated from each other (two namespaces/tenants of the same shards). */
  pair(): Promise<[Storage, Storage]>;
  /** The backend itself, for backend-level calls (queueDepths); absent for the router. */
  backend?: Backend;
  /** Called once after every test of the file. */
  teardown(): Promise<void>;
}

export type Test = TestFn<unknown>;
