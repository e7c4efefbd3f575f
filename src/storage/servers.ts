/** What a server announces: its queues and worker count. */
export interface ServerInfo {
  queues: string[];
  workerCount: number;
}

/** A server record with its start and last heartbeat. */
export interface ServerRecord extends ServerInfo {
  id: string;
  startedAt: Date;
  heartbeatAt: Date;
}

/** The servers of a namespace, with heartbeats; silent ones are removed by the others. */
export interface ServerRegistry {
  /** Register or re-register; sets startedAt and heartbeat to now. */
  announce(id: string, info: ServerInfo): Promise<void>;
  /** Throws ServerGoneError if the record was removed (e.g. by a peer's removeTimedOut). */
  heartbeat(id: string): Promise<void>;
  /** Deletes the server's record (a graceful stop). */
  remove(id: string): Promise<void>;
  /** Remove servers whose last heartbeat is older than timeoutMs; returns how many. */
  removeTimedOut(timeoutMs: number): Promise<number>;
  /** Every server record. */
  list(): Promise<ServerRecord[]>;
}
