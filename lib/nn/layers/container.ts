import { Module } from '../module';
import type { Tensor } from '../../tensor/tensor';
import { SquisherError } from '../../errors';

/** Runs children in order; they are named "0", "1", ... as in PyTorch (or by the names given). */
export class Sequential extends Module {
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    if (modules.length === 1 && !(modules[0] instanceof Module)) {
      for (const [n, m] of Object.entries(modules[0] as Record<string, Module>)) this.registerModule(n, m);
    } else {
      (modules as Module[]).forEach((m, i) => this.registerModule(String(i), m));
    }
  }
  get length(): number { return this._modules.size; }
  at(i: number): Module { return [...this._modules.values()][i]; }
  append(m: Module): this { this.registerModule(String(this._modules.size), m); return this; }
  forward<T = Tensor>(x: unknown): T {
    let y = x;
    for (const m of this._modules.values()) y = m.call<unknown>(y);
    return y as T;
  }
}

/** Holds modules under names "0", "1", ... without a forward of its own (PyTorch's ModuleList). */
export class ModuleList extends Module {
  constructor(modules: Module[] = []) {
    super();
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }
  at(i: number): Module { return this._modules.get(String(i))!; }
  get length(): number { return this._modules.size; }
  forward(): never { throw new SquisherError('ModuleList has no forward(); call its members'); }  // as torch's NotImplementedError
}
