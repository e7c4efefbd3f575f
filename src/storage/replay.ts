import type { RecordedOp, WriteTransaction } from './transaction.js';

/** Records one recorded write on another transaction (used by layers that re-route a batch, like the router). */
export function replayOp(tx: WriteTransaction, op: RecordedOp): void {
  switch (op.op) {
    case 'setJobState':
      return tx.setJobState(op.jobId, op.state);
    case 'addJobState':
      return tx.addJobState(op.jobId, op.state);
    case 'setJobParameter':
      return tx.setJobParameter(op.jobId, op.name, op.value);
    case 'expireJob':
      return tx.expireJob(op.jobId, op.ms);
    case 'persistJob':
      return tx.persistJob(op.jobId);
    case 'enqueue':
      return tx.enqueue(op.queue, op.jobId);
    case 'removeFromQueue':
      return tx.removeFromQueue(op.fetched);
    case 'hashSet':
      return tx.hashSet(op.key, op.fields);
    case 'hashDelete':
      return tx.hashDelete(op.key);
    case 'setAdd':
      return tx.setAdd(op.key, op.member, op.score);
    case 'setRemove':
      return tx.setRemove(op.key, op.member);
    case 'setDelete':
      return tx.setDelete(op.key);
    case 'listInsert':
      return tx.listInsert(op.key, op.value);
    case 'listRemove':
      return tx.listRemove(op.key, op.value);
    case 'listTrim':
      return tx.listTrim(op.key, op.start, op.end);
    case 'listDelete':
      return tx.listDelete(op.key);
    case 'counterIncrement':
      return tx.counterIncrement(op.key, op.by, op.expireInMs === null ? undefined : { expireInMs: op.expireInMs });
    case 'expire':
      return tx.expire(op.kind, op.key, op.ms);
    case 'persist':
      return tx.persist(op.kind, op.key);
  }
}
