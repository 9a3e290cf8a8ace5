// Bit-exact tests compare this process's libtorch arithmetic with a Python process's. Both must sum in the
// same order, so both run single-threaded with the libraries' dynamic thread choice off: under load,
// MKL/OpenMP may otherwise pick fewer threads in one process than in the other and round differently.
// jest.config.js requires this before any worker starts, so jest workers, the fixture scripts and every
// Python oracle process inherit the same settings; the environment is read when libtorch is loaded.
const PINNED = {
  OMP_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
  OPENBLAS_NUM_THREADS: '1',
  OMP_DYNAMIC: 'FALSE',
  MKL_DYNAMIC: 'FALSE',
  // MKL's conditional numerical reproducibility: the same code path run to run on this CPU (AUTO keeps
  // the fast path; COMPATIBLE would also match other CPUs, at a large cost in speed).
  MKL_CBWR: 'AUTO',
};
for (const [k, v] of Object.entries(PINNED)) process.env[k] = v;
module.exports = { PINNED };
