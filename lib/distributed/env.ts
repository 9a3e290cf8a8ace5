// The rendezvous settings torchrun (and Kubernetes' PyTorchJob, and SLURM scripts written for torchrun)
// put in the environment: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT. Explicit options win.
import { OptionError } from '../errors';

export interface Rendezvous {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

function int(name: string, v: string | number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || v === '') throw new OptionError(`${name} is not set: run under torchrun or squisher's launcher (--nproc-per-node), or pass it`);
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new OptionError(`${name} must be an integer in [${min}, ${max}], got '${v}'`);
  return n;
}

/** Reads the rendezvous from `o`, then from `env` (default process.env), and checks it. */
export function rendezvousFrom(o: Partial<Rendezvous> = {}, env: NodeJS.ProcessEnv = process.env): Rendezvous {
  const worldSize = int('WORLD_SIZE', o.worldSize ?? env.WORLD_SIZE, 1);
  const rank = int('RANK', o.rank ?? env.RANK, 0, worldSize - 1);
  // Unset LOCAL_RANK (one process per pod or node, e.g. a Kubeflow PyTorchJob) means the first device.
  const localRank = int('LOCAL_RANK', o.localRank ?? env.LOCAL_RANK ?? 0, 0);
  const masterAddr = o.masterAddr ?? env.MASTER_ADDR;
  if (!masterAddr) throw new OptionError('MASTER_ADDR is not set: the address of rank 0, which hosts the rendezvous store');
  const masterPort = int('MASTER_PORT', o.masterPort ?? env.MASTER_PORT, 1, 65535);
  return { rank, worldSize, localRank, masterAddr, masterPort };
}
