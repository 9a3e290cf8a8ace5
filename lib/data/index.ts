// Data: mini-batches over tensors (seeded shuffling, drop-last) and the MNIST loader.
export { DataLoader, permutation, seededRandom } from './loader';
export type { TensorData, Batch, LoaderOptions } from './loader';
export { loadMnist, readIdx, mnistDir, MNIST_MEAN, MNIST_STD } from './mnist';
export type { MnistOptions } from './mnist';
