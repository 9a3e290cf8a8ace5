// The Squisher on optimizers saved by real training runs (scripts/fixtures/trainer_runs.py): a Hugging
// Face Trainer run, timm's weight-decay groups, 12 equal-shaped layers, GPT-2's tied embeddings, a
// Lightning checkpoint, Adagrad / RMSprop / Adafactor. Every tensor must equal, bit for bit, the one Python
// found by NAME from the live optimizer (its groups hold the parameter objects), or the call is refused.
import * as fs from 'fs';
import { squisher, squisherFromTrainerDir } from '../../lib/fisher';
import { OptimizerStateError, OptionError } from '../../lib/errors';
import { loadSafetensors } from '../../lib/io';
import { FisherDiagonal, ScriptModule } from '../../lib';
import { fixture } from '../helpers/oracle';

const R = (p: string) => fixture(`trainer_runs/${p}`);
const json = (p: string) => JSON.parse(fs.readFileSync(R(p), 'utf8'));

/** Every expected tensor is in F under the same name and equal bit for bit; F has nothing else. */
function sameAs(F: FisherDiagonal, expected: string): void {
  const e = loadSafetensors(R(expected));
  expect([...F.keys()].sort()).toEqual([...e.keys()].sort());
  const wrong = [...e].filter(([k, t]) => !F.get(k)!.equal(t)).map(([k]) => k);
  expect(wrong).toEqual([]);
}

describe('Hugging Face Trainer checkpoint-10/ (tiny BERT, max_steps=10, decay / no-decay groups)', () => {
  test('model.safetensors has no order: refused, naming the file and what to pass', () => {
    expect(() => squisherFromTrainerDir(R('hf_bert/checkpoint-10'))).toThrow(OptimizerStateError);
    expect(() => squisherFromTrainerDir(R('hf_bert/checkpoint-10'))).toThrow(/model\.safetensors gives no parameter order .* share shapes .*--param-names names\.json/);
  });
  test('with the names list: B·exp_avg_sq (B = train_batch_size) by name, bit for bit; every group in the metadata', () => {
    const F = squisherFromTrainerDir(R('hf_bert/checkpoint-10'), { paramNames: json('hf_bert/names.json') });
    sameAs(F, 'hf_bert/expected_B.safetensors');
    expect(F.size).toBe(41);
    expect(F.meta).toMatchObject({ batchSize: 4, scale: 'B*v', globalStep: 10, step: 10, optimizer: 'adamw', convention: 'hf-trainer', modelType: 'bert', weightDecay: '[0.01,0]' });
    const groups = JSON.parse(String(F.meta.groups));
    expect(groups.map((g: any) => ({ lr: g.lr, betas: g.betas, weight_decay: g.weight_decay, params: g.params }))).toEqual(json('hf_bert/groups.json'));
    expect(groups[0].initial_lr).toBe(1e-3);
  });
  test('gradient accumulation (training_args.bin, read as inert data): B = train_batch_size x accumulation steps x processes', () => {
    const F = squisherFromTrainerDir(R('hf_bert/accum/checkpoint-3'));
    sameAs(F, 'hf_bert/accum/expected_B8.safetensors');
    expect(F.meta).toMatchObject({ batchSize: 8, gradientAccumulationSteps: 2, globalStep: 3 });
    expect(F.meta.batchSizeFrom).toBe('trainer_state.json train_batch_size 4 x training_args.bin gradient_accumulation_steps 2 x processes 1');
    expect(squisherFromTrainerDir(R('hf_bert/accum/checkpoint-3'), { batchSize: 3 }).meta).toMatchObject({ batchSize: 3, factor: 3 });
  });
  test('pytorch_model.bin keeps the order: no names list needed; the metadata survives a save', () => {
    const F = squisherFromTrainerDir(R('hf_bert/bin'));
    sameAs(F, 'hf_bert/expected_B.safetensors');
    const out = `${fs.mkdtempSync('/tmp/sq-')}/f.safetensors`;
    F.save(out);
    expect(FisherDiagonal.load(out).meta).toMatchObject({ convention: 'hf-trainer', batchSize: 4, weightDecay: '[0.01,0]' });
  });
});

describe('12 equal-shaped Linear layers (a sorted safetensors header puts 1, 10, 11, 2, ...)', () => {
  test('safetensors alone is refused; torch.save order, or safetensors + names list, gives every layer its own v', () => {
    expect(() => squisher({ file: R('linear12/optimizer.pt'), model: R('linear12/model.safetensors') })).toThrow(/gives no parameter order .*0\.bias, 1\.bias, 10\.bias are all \[6\]/);
    sameAs(squisher({ file: R('linear12/optimizer.pt'), model: R('linear12/model.pt') }), 'linear12/expected.safetensors');
    const F = squisher({ file: R('linear12/optimizer.pt'), model: R('linear12/model.safetensors') }, { paramNames: json('linear12/names.json') });
    sameAs(F, 'linear12/expected.safetensors');
    expect(F.meta).toMatchObject({ mapping: 'shapes: the only assignment of the model order to the param_groups', convention: 'torch' });
  });
  test('two groups in another order (biases first, then weights) are placed by shape', () => {
    sameAs(squisher({ file: R('linear12/groups2/optimizer.pt'), model: R('linear12/model.pt') }), 'linear12/groups2/expected.safetensors');
  });
  test('a names list of the wrong length, or naming something else, is refused', () => {
    const names: string[] = json('linear12/names.json');
    expect(() => squisher({ file: R('linear12/optimizer.pt'), model: R('linear12/model.safetensors') }, { paramNames: names.slice(1), paramNamesLabel: 'names.json' }))
      .toThrow(/names list names\.json lists 23 names but .*optimizer\.pt's param_groups hold 24 ids/);
    expect(() => squisher({ file: R('linear12/optimizer.pt'), model: R('linear12/model.safetensors') }, { paramNames: [...names.slice(1), 'head.weight'] }))
      .toThrow(/names 'head\.weight', which is not a parameter of .*model\.safetensors/);
  });
});

test('timm create_optimizer_v2 (no-decay, decay groups): B·v by name from the model, and from a training checkpoint alone', () => {
  const F = squisher({ file: R('timm/optimizer.pt'), model: R('timm/model.pt') }, { batchSize: 4 });
  sameAs(F, 'timm/expected_B.safetensors');
  expect(F.meta).toMatchObject({ convention: 'timm', weightDecay: '[0,0.05]' });
  sameAs(squisher({ file: R('timm/checkpoint.pth.tar') }), 'timm/expected.safetensors');
  expect(() => squisher({ file: R('timm/optimizer.pt'), model: R('timm/model.safetensors') })).toThrow(/gives no parameter order/);
});

test("GPT-2's tied lm_head.weight / transformer.wte.weight: one optimizer state, named once, the alias recorded", () => {
  const F = squisher({ file: R('gpt2/optimizer.pt'), model: R('gpt2/pytorch_model.bin') });
  sameAs(F, 'gpt2/expected.safetensors');
  expect(F.has('lm_head.weight')).toBe(false);
  expect(JSON.parse(String(F.meta.aliases))).toEqual({ 'lm_head.weight': 'transformer.wte.weight' });
});

test('a TorchScript model with a tied parameter (listed under both names by the archive): the optimizer saw it once', () => {
  sameAs(squisher({ file: R("tied_lm_adam.pt"), model: ScriptModule.load(R('tied_lm.jit.pt')) }), 'tied_lm_adam_expected.safetensors');
  sameAs(squisher({ file: R('tied_lm_adam.pt'), model: R('tied_lm.jit.pt') }), 'tied_lm_adam_expected.safetensors');
});

test("a Lightning checkpoint: optimizer_states[0] named by the checkpoint's own state_dict", () => {
  sameAs(squisher({ file: R('lightning/last.ckpt') }), 'lightning/expected.safetensors');
  expect(() => squisher({ file: R('lightning/last.ckpt') }, { optimizerIndex: 1 })).toThrow(/--optimizer-index 1 is out of range: .*holds 1 optimizer/);
});

describe('more accumulators (B = 5)', () => {
  const model = () => R('accum/model.pt');
  test.each([
    ['adagrad', 'sum', /\(sum - initial_accumulator_value\) \* \(B\/step\)/],
    ['rmsprop', 'square_avg', /EMA \(alpha\)/],
    ['adafactor', 'exp_avg_sq_row*exp_avg_sq_col', /_approx_sq_grad/],
  ])('%s: equals Python\'s estimate bit for bit; the convention is in the metadata', (kind, acc, conv) => {
    const F = squisher({ file: R(`accum/${kind}.pt`), model: model() }, { batchSize: 5 });
    sameAs(F, `accum/expected_${kind}.safetensors`);
    expect(F.meta).toMatchObject({ optimizer: kind, accumulator: acc, batchSize: 5 });
    expect(String(F.meta.accumulatorScale)).toMatch(conv);
  });
  test('Adagrad without B is (sum - init)/step; bias correction is refused where it does not apply; SGD is refused', () => {
    const raw = loadSafetensors(R('accum/raw_adagrad.safetensors'));
    const F = squisher({ file: R('accum/adagrad.pt'), model: model() });
    for (const [k, t] of raw) expect(F.get(k)!.equal(t.sub(0.5).mul(1 / 4))).toBe(true);
    expect(() => squisher({ file: R('accum/adagrad.pt'), model: model() }, { biasCorrection: true })).toThrow(OptionError);
    expect(() => squisher({ file: R('accum/adafactor.pt'), model: model() }, { biasCorrection: true })).toThrow(/bias correction does not apply to adafactor/);
    expect(() => squisher({ file: R('accum/sgd.pt'), model: model() })).toThrow(/found momentum_buffer for 6 parameter\(s\) \(an SGD state\)/);
  });
});

describe('refusals', () => {
  test('equal shapes in two arbitrary groups: refused, naming the names that could swap; the names per group decide', () => {
    const run = (o = {}) => squisher({ file: R('ambiguous/optimizer.pt'), model: R('ambiguous/model.pt') }, o);
    expect(run).toThrow(/fit more than one assignment .*'1\.weight' could be state 1 \(param_groups\[0\]\) or state 2 \(param_groups\[1\]\); refusing to guess.*\{"groups"/);
    sameAs(run({ paramNames: json('ambiguous/groups.json') }), 'ambiguous/expected.safetensors');
    expect(() => run({ convention: 'torch' })).toThrow(/convention 'torch' .*cannot make the 2 param_groups/);
    expect(() => run({ convention: 'nope' })).toThrow(/unknown convention 'nope'/);
    expect(() => run({ paramNames: { groups: [['0.weight', '1.weight'], ['2.weight']] } })).toThrow(/lists 1 name\(s\) for group 1 but .* holds 2 id\(s\)/);
  });
  test('an optimizer from another model: the first mismatching id and shape are named', () => {
    // same number of parameters (24), other shapes
    expect(() => squisher({ file: R('linear12/optimizer.pt'), model: R('linear12/model.pt') }, { paramNames: { groups: [json('linear12/names.json').reverse()] } }))
      .toThrow(/state 0 \(param_groups\[0\]\) has shape \[6,6\] but '11\.bias', its name in the names given per group, has \[6\]/);
    expect(() => squisher({ file: R('timm/optimizer.pt'), model: R('hf_bert/bin/pytorch_model.bin') })).toThrow(/covers 47 parameters but .*pytorch_model\.bin has 41/);
    expect(() => squisher({ file: R('accum/rmsprop.pt'), model: fixture('fisher_opt_adam_model_sd.pt') }))
      .toThrow(/rmsprop\.pt state 0 has shape \[3,2,3,3\] but model parameter '0\.weight' \(position 0\) has \[16,10\]: .*another model/);
  });
});
