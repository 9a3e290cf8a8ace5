// The graph rewrite behind the fast path: inline the module's forward graph, follow prim::GetAttr chains
// from `self` to name each parameter read, find every use of every parameter, and for each use a rule
// can handle, add the use's inputs and output as extra graph outputs. One interpreter run then yields
// the model output and everything the rules need; one backward to those outputs yields every δ.
// Uses inside `if` and loop bodies come out through lists, one element per run of the body (ran.cpp reads
// them back as instances). A parameter with a use no rule handles (an unsupported op, a use inside a
// closure or fork) takes the per-parameter fallback; the plan records why. Tied parameters (one tensor under several names) are one
// entry, named as named_parameters() names it first, with the uses of all its names.
#include "fisher/engine.h"
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <unordered_map>
#include <unordered_set>

namespace sq::fisher {
using torch::jit::Node;
using torch::jit::Value;

namespace {

bool sameTensor(const at::Tensor& a, const at::Tensor& b) {
  if (a.unsafeGetTensorImpl() == b.unsafeGetTensorImpl()) return true;
  return a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()) && a.storage_offset() == b.storage_offset() &&
         a.sizes().equals(b.sizes()) && a.strides().equals(b.strides()) && a.scalar_type() == b.scalar_type();
}

at::Tensor attrTensor(torch::jit::Module m, const std::string& dotted) {
  size_t start = 0, dot;
  while ((dot = dotted.find('.', start)) != std::string::npos) {
    m = m.attr(dotted.substr(start, dot - start)).toModule();
    start = dot + 1;
  }
  return m.attr(dotted.substr(start)).toTensor();
}

void eachNode(torch::jit::Block* b, const std::function<void(Node*)>& f) {
  for (Node* n : b->nodes()) {
    f(n);
    for (auto* sub : n->blocks()) eachNode(sub, f);
  }
}

// The first node enclosing n (up to the graph's top block) that is not an `if` or a loop, or nullptr:
// uses inside prim::If / prim::Loop bodies are captured (see liftOut); other block owners (closures,
// forks) are not.
const Node* unsupportedBlockOwner(const Node* n, const torch::jit::Block* top) {
  for (const auto* b = n->owningBlock(); b != top; b = b->owningNode()->owningBlock()) {
    auto k = b->owningNode()->kind();
    if (k != c10::prim::If && k != c10::prim::Loop) return b->owningNode();
  }
  return nullptr;
}

// The top-level node that contains n (n itself outside control flow).
Node* topLevelOwner(Node* n, const torch::jit::Block* top) {
  while (n->owningBlock() != top) n = n->owningBlock()->owningNode();
  return n;
}

bool isReshape(const Node* n) {
  static const std::set<std::string> k{"aten::view", "aten::reshape", "aten::flatten", "aten::contiguous", "aten::_unsafe_view"};
  return k.count(n->kind().toQualString()) > 0;
}

// The one elementwise add/sub through which an embedding's output reaches the rest of the graph, seen
// through dtype/device casts (GPT-2's wpe(position_ids).to(dtype)) and unsqueeze(0); shape reads (aten::size/dim) carry no
// gradient and do not count. When the embedding has no batch dim (position ids [1, T] or [T]), that op's
// output gradient, row n, is sample n's δ of the broadcast embedding (rules/embedding.cpp). No node (and
// the reason) when there is no such op or when in-place writes could make the captured value's gradient
// other than the gradient at that op's output.
struct Consumer {
  Node* node = nullptr;
  size_t operand = 0;     // the embedding enters as 0: self, 1: other
  bool cloneOut = false;  // an out-of-place consumer's output is written in place later
  std::string why;
};

Consumer broadcastConsumer(Node* n, const torch::jit::AliasDb& aliases, torch::jit::Graph& g) {
  static const std::set<std::string> ops{"aten::add", "aten::add_", "aten::sub", "aten::sub_"};
  Consumer r;
  if (n->kind() != c10::aten::embedding) return r;
  Value* v = n->output();
  for (;;) {
    if (aliases.hasWriters(v)) { r.why = "its output is written in place"; return r; }
    std::vector<torch::jit::Use> uses;
    for (const auto& u : v->uses()) {
      if (u.user->kind() != c10::aten::size && u.user->kind() != c10::aten::dim) uses.push_back(u);
    }
    if (uses.size() != 1) {
      r.why = "its output has " + std::to_string(uses.size()) + " consumers, not one elementwise aten::add/aten::sub";
      return r;
    }
    Node* c = uses[0].user;
    std::string kind = c->kind().toQualString();
    if (c->owningBlock() != g.block()) { r.why = "its consumer " + kind + " is inside control flow"; return r; }
    if (c->kind() == c10::aten::to && uses[0].offset == 0 && c->outputs().size() == 1) {
      v = c->output();
      continue;
    }
    if (c->kind() == c10::aten::unsqueeze && uses[0].offset == 0) {
      // pos(ids).unsqueeze(0): only the leading broadcast dim is added, so the consumer's row n has the
      // embedding's shape (checked per batch); another dim would move the embedding's dims in it
      auto d = torch::jit::toIValue(c->input(1));
      if (d && d->isInt() && d->toInt() == 0) {
        v = c->output();
        continue;
      }
    }
    bool tensors = c->inputs().size() == 3 && c->outputs().size() == 1 && uses[0].offset <= 1 &&
                   c->input(0)->type()->cast<c10::TensorType>() && c->input(1)->type()->cast<c10::TensorType>() &&
                   c->output()->type()->cast<c10::TensorType>();
    if (!ops.count(kind) || !tensors) {
      r.why = "its consumer " + kind + " is not an elementwise aten::add/aten::sub of two tensors";
      return r;
    }
    if (kind.back() == '_') {
      // in place: its output is the tensor it writes (the same tensor as its self). A later write to it
      // would move the gradient we take; a later read through another alias made before it (the base of
      // a view it wrote into) would carry gradient that the captured tensor's does not include.
      torch::jit::ValueSet out{c->output()};
      std::string bad;
      std::function<void(Node*)> visit = [&](Node* m) {
        if (!bad.empty()) return;
        if (m->kind() != c10::prim::Return && aliases.writesToAlias(m, out)) {
          bad = "is written in place again by " + std::string(m->kind().toQualString());
          return;
        }
        for (Value* in : m->inputs()) {
          if (in == c->output() || in == c->input(0) || in->node()->isAfter(c)) continue;
          if (aliases.mayAlias(in, c->output())) {
            bad = "is read after it through another alias (" + in->debugName() + ", input of " + m->kind().toQualString() + ")";
            return;
          }
        }
        for (auto* b : m->blocks()) {
          for (Node* k : b->nodes()) visit(k);
          visit(b->return_node());
        }
      };
      for (Node* m = c->next();; m = m->next()) {
        visit(m);
        if (!bad.empty()) { r.why = "the output of its consumer " + kind + " " + bad; return r; }
        if (m == g.return_node()) break;
      }
    } else {
      r.cloneOut = aliases.hasWriters(c->output());
    }
    r.node = c;
    r.operand = uses[0].offset;
    return r;
  }
}

// Whether v's value is the same for any values of the forward's inputs (self aside): it comes only from
// constants, module attributes (buffers) and the inputs' shapes (aten::size), as position ids do. Unknown
// origins (block outputs and parameters, anything else) count as input-dependent: the answer only ever
// sends a use to the fallback, so "no" is the side that changes nothing.
bool inputFree(Value* v, torch::jit::Graph& g) {
  std::unordered_map<Value*, bool> seen;
  std::vector<Value*> todo{v};
  while (!todo.empty()) {
    Value* x = todo.back();
    todo.pop_back();
    if (seen.count(x)) continue;
    seen[x] = true;
    Node* n = x->node();
    if (n == g.param_node()) {
      if (x != g.inputs()[0]) return false;
      continue;
    }
    if (n->owningBlock() != g.block() || !n->blocks().empty()) return false;
    if (n->kind() == c10::prim::Constant || n->kind() == c10::aten::size || n->kind() == c10::aten::dim) continue;
    for (Value* in : n->inputs()) todo.push_back(in);
  }
  return true;
}

// The values that carry the samples: computed from the forward's inputs (all but `self`) through their
// data or through the batch size. A tensor made from parameters, buffers and constants alone, or from
// sizes other than the batch's (torch.arange(ids.size(1))), or from one sample of an input (x[i]), has no sample dim even when its first dim
// happens to equal the batch size (a learned query bank of Q = N rows, position ids [T] with T = N): a
// rule reading its rows as samples gives a wrong Fisher that looks right. Over-approximated where unsure
// (any op with a carrying input carries; a value written in place by an op with a carrying input
// carries), so it only ever refuses what the shape checks would have let through.
std::unordered_set<const Value*> fromInputs(torch::jit::Graph& g, const torch::jit::AliasDb& aliases) {
  std::unordered_set<const Value*> in;
  for (size_t i = 1; i < g.inputs().size(); i++) in.insert(g.inputs()[i]);
  auto has = [&](const Value* v) { return in.count(v) > 0; };
  // the dim a size read picks (x.size(d), x.size()[d], N, T = x.size()): -1 when not a constant
  auto constDim = [](const Value* v, const Value* of) -> int64_t {
    auto c = torch::jit::toIValue(v);
    if (!c || !c->isInt()) return -1;
    int64_t d = c->toInt();
    if (d < 0) {
      auto t = of->type()->cast<c10::TensorType>();
      auto rank = t ? t->dim() : std::nullopt;
      if (!rank) return -1;
      d += static_cast<int64_t>(*rank);
    }
    return d;
  };
  // an input of the forward, seen through casts (the batch is its dim 0, as fisherDiagonal batches it)
  auto isInput = [&](const Value* v) {
    while (v->node()->kind() == c10::aten::to || v->node()->kind() == c10::aten::contiguous || v->node()->kind() == c10::aten::detach) {
      v = v->node()->input(0);
    }
    return v->node() == g.param_node() && v != g.inputs()[0];
  };
  auto sizeList = [](const Value* v) { return v->node()->kind() == c10::aten::size && v->node()->inputs().size() == 1; };
  std::vector<Node*> writers;
  eachNode(g.block(), [&](Node* n) {
    if (auto s = n->maybeSchema(); s && s->is_mutable()) writers.push_back(n);
  });
  std::vector<Value*> all;
  for (Value* v : g.inputs()) all.push_back(v);
  eachNode(g.block(), [&](Node* n) {
    for (auto* b : n->blocks()) for (Value* v : b->inputs()) all.push_back(v);
    for (Value* v : n->outputs()) all.push_back(v);
  });
  for (bool changed = true; changed;) {
    changed = false;
    auto mark = [&](const Value* v) { if (in.insert(v).second) changed = true; };
    eachNode(g.block(), [&](Node* n) {
      auto k = n->kind();
      if (k == c10::prim::If) {
        for (size_t i = 0; i < n->outputs().size(); i++) {
          for (auto* b : n->blocks()) if (has(b->outputs()[i])) mark(n->output(i));
        }
        return;
      }
      if (k == c10::prim::Loop) {
        auto* body = n->blocks()[0];
        for (size_t i = 0; i < n->outputs().size(); i++) {
          if (has(n->input(i + 2)) || has(body->outputs()[i + 1])) {
            mark(n->output(i));
            mark(body->inputs()[i + 1]);
          }
        }
        return;
      }
      if (k == c10::aten::dim) return;
      if ((k == c10::aten::select || k == c10::aten::unbind) && n->inputs().size() >= 2 && constDim(n->input(1), n->input(0)) == 0 &&
          isInput(n->input(0))) {
        return;  // one sample of the input batch (x[i] in a loop over the samples): its rows are no samples
      }
      if (k == c10::aten::size && n->inputs().size() == 2) {
        if (has(n->input(0)) && constDim(n->input(1), n->input(0)) == 0) mark(n->output());
        else if (has(n->input(0)) && constDim(n->input(1), n->input(0)) < 0 && !torch::jit::toIValue(n->input(1))) mark(n->output());
        return;
      }
      if (k == c10::aten::__getitem__ && sizeList(n->input(0))) {
        if (has(n->input(0)) && constDim(n->input(1), n->input(0)->node()->input(0)) == 0) mark(n->output());
        else if (has(n->input(0)) && !torch::jit::toIValue(n->input(1))) mark(n->output());
        return;
      }
      if (k == c10::prim::ListUnpack && sizeList(n->input(0))) {
        if (has(n->input(0))) mark(n->output(0));
        return;
      }
      if (std::any_of(n->inputs().begin(), n->inputs().end(), has)) {
        for (Value* v : n->outputs()) mark(v);
        for (auto* b : n->blocks()) for (Value* v : b->inputs()) mark(v);
      }
    });
    for (Node* w : writers) {
      if (std::none_of(w->inputs().begin(), w->inputs().end(), has)) continue;
      for (Value* v : all) {
        if (!has(v) && aliases.writesToAlias(w, torch::jit::ValueSet{v})) mark(v);
      }
    }
  }
  return in;
}

}  // namespace

std::unique_ptr<Plan> buildPlan(const torch::jit::Module& m, const std::vector<std::string>& only) {
  auto plan = std::make_unique<Plan>();
  plan->module = m;
  // ---- parameters: one entry per tensor, in named_parameters order, tied names as aliases ----
  std::vector<Param> all;
  for (const auto& np : m.named_parameters(true)) {
    if (!np.value.requires_grad()) continue;
    auto it = std::find_if(all.begin(), all.end(), [&](const Param& p) { return sameTensor(p.tensor, np.value); });
    if (it != all.end()) {
      it->aliases.push_back(np.name);
      if (std::none_of(it->leaves.begin(), it->leaves.end(), [&](const at::Tensor& l) { return l.unsafeGetTensorImpl() == np.value.unsafeGetTensorImpl(); })) {
        it->leaves.push_back(np.value);
      }
      continue;
    }
    Param p;
    p.name = np.name;
    p.aliases = {np.name};
    p.tensor = np.value;
    p.leaves = {np.value};
    all.push_back(std::move(p));
  }
  if (!only.empty()) {
    std::vector<std::string> missing;
    for (const auto& n : only) {
      if (std::none_of(all.begin(), all.end(), [&](const Param& p) { return p.name == n; })) missing.push_back(n);
    }
    if (!missing.empty()) throw std::invalid_argument("[OptionError] the model has no trainable parameter(s) " + c10::Join(", ", missing));
  }
  for (auto& p : all) {
    if (only.empty() || std::find(only.begin(), only.end(), p.name) != only.end()) plan->params.push_back(std::move(p));
  }
  std::unordered_map<std::string, size_t> byName;
  for (size_t i = 0; i < plan->params.size(); i++) {
    auto& p = plan->params[i];
    for (const auto& a : p.aliases) byName[a] = i;
    // attributes may hold distinct tensor objects for one tied parameter: differentiate through each
    for (const auto& a : p.aliases) {
      auto t = attrTensor(m, a);
      if (std::none_of(p.leaves.begin(), p.leaves.end(), [&](const at::Tensor& l) { return l.unsafeGetTensorImpl() == t.unsafeGetTensorImpl(); })) {
        p.leaves.push_back(t);
      }
    }
    p.acc = at::zeros_like(p.tensor.detach(), at::MemoryFormat::Contiguous);
  }

  // ---- the inlined forward graph and where each parameter is read ----
  auto method = m.find_method("forward");
  if (!method) throw std::invalid_argument("[OptionError] the TorchScript model has no forward method");
  auto g = torch::jit::toGraphFunction(method->function()).graph()->copy();
  torch::jit::Inline(*g);
  plan->nOutputs = g->outputs().size();
  std::unordered_map<Value*, std::string> path;
  path[g->inputs()[0]] = "";
  std::vector<std::pair<Value*, size_t>> reads;
  eachNode(g->block(), [&](Node* n) {
    if (n->kind() != c10::prim::GetAttr) return;
    auto base = path.find(n->input(0));
    if (base == path.end()) return;
    std::string p = base->second.empty() ? n->s(c10::attr::name) : base->second + "." + n->s(c10::attr::name);
    path[n->output()] = p;
    auto it = byName.find(p);
    if (it != byName.end()) reads.emplace_back(n->output(), it->second);
  });

  // ---- every use of every read: a rule and a role, or the reason for the fallback ----
  std::map<Node*, size_t> useOf;
  std::vector<Node*> useNodes;
  std::vector<std::vector<std::pair<Node*, std::string>>> pending(plan->params.size());
  for (auto& [v, pi] : reads) {
    auto& p = plan->params[pi];
    for (const auto& u : v->uses()) {
      Node* n = u.user;
      std::string kind = n->kind().toQualString();
      std::string why;
      const Rule* rule = nullptr;
      if (const Node* cf = unsupportedBlockOwner(n, g->block())) {
        why = "used inside " + std::string(cf->kind().toQualString()) + ", whose body the fast path does not capture (as input of " + kind + ")";
      } else if (auto r = registry().find(kind); r == registry().end()) {
        why = "used by " + kind + ", which has no fast-path rule";
      } else {
        rule = r->second;
      }
      const char* role = rule ? rule->role(n, u.offset) : nullptr;
      if (rule && !role) why = "used as input " + std::to_string(u.offset) + " of " + kind + ", which no rule covers";
      if (rule && role && n->outputs().size() != 1) why = "used by " + kind + " with several outputs";
      if (!why.empty()) {
        if (!p.fallback) { p.fallback = true; p.why = why; }
        continue;
      }
      pending[pi].emplace_back(n, role);
    }
  }
  for (size_t pi = 0; pi < plan->params.size(); pi++) {
    auto& p = plan->params[pi];
    if (!p.fallback && pending[pi].empty()) { p.fallback = true; p.why = "no use found in the forward graph"; }
    if (p.fallback) continue;
    for (auto& [n, role] : pending[pi]) {
      auto it = useOf.find(n);
      if (it == useOf.end()) {
        it = useOf.emplace(n, useNodes.size()).first;
        useNodes.push_back(n);
      }
      p.uses.emplace_back(it->second, role);
    }
  }

  // ---- an embedding's broadcasting add/sub (found before any rewrite: the alias analysis is of this graph) ----
  // ---- and whether each use's activation (an embedding's indices), or that add/sub's output, carries the samples ----
  std::vector<Consumer> consumers;
  std::vector<std::pair<bool, bool>> carries;
  {
    torch::jit::AliasDb consumerAliases(g);
    auto carrying = fromInputs(*g, consumerAliases);
    for (Node* n : useNodes) {
      consumers.push_back(broadcastConsumer(n, consumerAliases, *g));
      int act = registry().at(n->kind().toQualString())->activationOf(n);
      Node* c = consumers.back().node;
      carries.emplace_back(act < 0 || carrying.count(n->input(act)) > 0, c && carrying.count(c->output()) > 0);
    }
  }

  // ---- capture: each use's inputs and output become graph outputs ----
  torch::jit::AliasDb aliases(g);
  // Only a write AFTER the use can make a captured value differ from what the use saw: the capture holds
  // the value as the run leaves it. ReLU(inplace=True) writes nearly every activation of a ResNet, but
  // before the next conv reads it; copying those (what hasWriters, which ignores order, asked for) cost a
  // copy of most activations. So: does a node after n write to an alias of v? That is the later nodes of
  // n's block, then of each enclosing block after its owner (getWrites covers a node's sub-blocks), and,
  // where n sits in a loop body, the whole loop: the next iteration's nodes before n run after n too.
  // Decided on the unmodified graph, before any copy is inserted.
  auto writtenAfter = [&](Node* n, Value* v) {
    torch::jit::ValueSet vs{v};
    for (Node* at = n; at;) {
      auto* b = at->owningBlock();
      for (Node* m = at->next(); m != b->return_node(); m = m->next()) {
        if (aliases.writesToAlias(m, vs)) return true;
      }
      at = b->owningNode();  // null at the top-level block
      if (at && at->kind() == c10::prim::Loop && aliases.writesToAlias(at, vs)) return true;
    }
    return false;
  };
  std::vector<std::pair<bool, bool>> written;  // (output written in place later, activation written in place later)
  for (Node* n : useNodes) {
    const Rule* rule = registry().at(n->kind().toQualString());
    int act = rule->activationOf(n);
    written.emplace_back(writtenAfter(n, n->output()), act >= 0 && writtenAfter(n, n->input(act)));
  }
  for (size_t i = 0; i < useNodes.size(); i++) {
    Node* n = useNodes[i];
    Use use;
    use.kind = n->kind().toQualString();
    use.fromInput = carries[i].first;
    use.consumerFromInput = carries[i].second;
    use.rule = registry().at(use.kind);
    int act = use.rule->activationOf(n);
    use.act = act;
    Value* y = n->output();
    Node* last = n;  // the captured values are all computed by here
    if (written[i].first) {
      // an in-place op (e.g. ReLU(inplace=True)) later rewrites this output: the rest of the graph gets a
      // copy, so ∂loss/∂y stays the gradient at this op's output
      torch::jit::WithInsertPoint ip(n->next());
      Value* copy = g->insert(c10::aten::clone, {y});
      y->replaceAllUsesAfterNodeWith(copy->node(), copy);
      last = copy->node();
    }
    Value* a = act >= 0 ? n->input(act) : nullptr;
    Value* aCaptured = a;
    if (a && written[i].second) {
      torch::jit::WithInsertPoint ip(n);
      aCaptured = g->insert(c10::aten::clone, {a});
    }
    // A value defined inside an `if` or loop body is not visible at the top: it goes out through a list
    // made before the outermost enclosing node and appended to right after the use (after the output's
    // clone), so each run of the body adds one instance: 0 or 1 for an `if`, one per loop iteration.
    Node* top = topLevelOwner(n, g->block());
    auto out = [&](Value* v, bool& lifted) -> size_t {
      lifted = top != n && v->node()->owningBlock() != g->block();
      if (!lifted) return g->registerOutput(v);
      Value* list;
      {
        torch::jit::WithInsertPoint ip(top);
        list = g->insertNode(g->createList(v->type(), {}))->output();
      }
      torch::jit::WithInsertPoint ip(last->next());
      g->insert(c10::aten::append, {list, v});
      return g->registerOutput(list);
    };
    for (size_t k = 0; k < n->inputs().size(); k++) {
      Value* v = (static_cast<int>(k) == act) ? aCaptured : n->input(k);
      bool lifted = false;
      use.inSlots.push_back(out(v, lifted));
      use.inLifted.push_back(lifted);
    }
    bool lifted = false;
    use.outSlot = out(y, lifted);
    use.lifted = lifted;
    if (a) {
      Value* s = a;
      while (isReshape(s->node())) s = s->node()->input(0);
      if (s != a) use.sourceSlot = static_cast<int64_t>(out(s, use.sourceLifted));
    }
    use.inSlots.shrink_to_fit();
    plan->uses.push_back(std::move(use));
  }
  // ---- capture: the broadcasting consumers' outputs (and alpha where it scales the embedding) ----
  std::map<Node*, size_t> consumerSlots;  // one capture per consumer (GPT-2's wte and wpe meet at one add)
  for (size_t i = 0; i < useNodes.size(); i++) {
    auto& use = plan->uses[i];
    const auto& c = consumers[i];
    if (useNodes[i]->kind() == c10::aten::embedding) use.inputFreeIndices = inputFree(useNodes[i]->input(1), *g);
    if (!c.node) { use.noConsumer = c.why; continue; }
    Value* out = c.node->output();
    if (auto seen = consumerSlots.find(c.node); seen != consumerSlots.end()) {
      use.consumerSlot = static_cast<int64_t>(seen->second);
    } else {
      if (c.cloneOut) {
        // as for a use output written in place later: the rest of the graph gets a copy, so the gradient
        // w.r.t. `out` stays the gradient at the consumer's output
        torch::jit::WithInsertPoint ip(c.node->next());
        Value* copy = g->insert(c10::aten::clone, {out});
        out->replaceAllUsesAfterNodeWith(copy->node(), copy);
      }
      use.consumerSlot = static_cast<int64_t>(g->registerOutput(out));
      consumerSlots[c.node] = static_cast<size_t>(use.consumerSlot);
    }
    if (c.operand == 1) {
      use.alphaSlot = static_cast<int64_t>(g->registerOutput(c.node->input(2)));
      if (c.node->kind() == c10::aten::sub || c.node->kind() == c10::aten::sub_) use.sign = -1;
    }
  }
  plan->graph = g;
  plan->code = std::make_unique<torch::jit::Code>(g, "squisher_fisher_forward");
  return plan;
}

}  // namespace sq::fisher
