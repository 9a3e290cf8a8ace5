// Hugging Face Trainer (transformers 4.x-5.x, trainer.py create_optimizer / get_decay_parameter_names):
// group 0 = the parameters that get weight decay, group 1 = the rest (weight_decay 0.0), each in
// named_parameters() order. No decay for a name matching (lower-cased) bias, layernorm, rmsnorm,
// (^|.)norm($|.) or _norm($|.), nor for a parameter of an nn.LayerNorm module; module types are not in a
// state_dict, so a LayerNorm whose name matches none of the patterns (GPT-2's ln_1) makes the group sizes
// disagree and this convention is rejected rather than guessed.
import { Convention } from './types';

const NO_DECAY = [/bias/, /layernorm/, /rmsnorm/, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/];

export function hfDecays(name: string): boolean {
  const n = name.toLowerCase();
  return !NO_DECAY.some((re) => re.test(n));
}

export const hfTrainerConvention: Convention = {
  name: 'hf-trainer',
  source: "transformers Trainer.create_optimizer: [decay (get_decay_parameter_names), no decay (weight_decay 0.0)]",
  partition(p, groups) {
    if (groups.length !== 2) return null;
    return [p.names.filter(hfDecays), p.names.filter((n) => !hfDecays(n))];
  },
};
