/** Options every backend takes for the storages it hands out. */
export interface StorageOptions {
  /** Largest serialized job arguments accepted, in bytes. Default 512 KiB. */
  maxPayloadBytes?: number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 512 * 1024;
export const DEFAULT_INVISIBILITY_MS = 30 * 60_000;
export const DEFAULT_LOCK_TTL_MS = 30_000;
