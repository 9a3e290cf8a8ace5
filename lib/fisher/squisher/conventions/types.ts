// A convention is how a training library splits a model's parameters into optimizer groups. Each one
// turns the model's names (in named_parameters() order) into the names of every group, in the order the
// optimizer numbered them; the Squisher then checks group sizes and every tensor's shape against it.
import { Group } from '../optimizer-state';
import { ParamList } from '../params';

export interface Convention {
  name: string;
  /** Where the rule comes from (error messages, README). */
  source: string;
  /** Names per group, or null when this convention cannot have made that many groups. */
  partition(params: ParamList, groups: Group[]): string[][] | null;
}
