// The registered conventions, by name (--convention NAME).
import { Convention } from './types';
import { torchConvention } from './torch';
import { hfTrainerConvention } from './hf-trainer';
import { timmConvention } from './timm';
import { modelOrderConvention } from './model-order';

export const CONVENTIONS: Convention[] = [torchConvention, hfTrainerConvention, timmConvention, modelOrderConvention];
export type { Convention } from './types';
