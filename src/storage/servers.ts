export interface ServerInfo {
  queues: string[];
  workerCount: number;
}

export interface ServerRecord extends ServerInfo {
  id: string;
  startedAt: Date;
  heartbeatAt: Date;
}

export interface ServerRegistry {
  /** Register or re-register; sets startedAt and heartbeat to now. */
  announce(id: string, info: ServerInfo): Promise<void>;
  /** Throws ServerGoneError if the record was removed (e.g. by a peer's removeTimedOut). */
  heartbeat(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Remove servers whose last heartbeat is older than timeoutMs; returns how many. */
  removeTimedOut(timeoutMs: number): Promise<number>;
  list(): Promise<ServerRecord[]>;
}
