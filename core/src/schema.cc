// RecordSchema lookups (fields, dotted paths, merge rules) and the registry.
#include "doorstep/core/schema.h"

#include <algorithm>
#include <utility>

#include "schema_internal.h"

namespace doorstep::core {
namespace {

const FieldSpec* FindIn(const std::vector<FieldSpec>& specs,
                        std::string_view name) {
  for (const FieldSpec& f : specs) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool IsListType(FieldType t) {
  return t == FieldType::kEnumList || t == FieldType::kStringList ||
         t == FieldType::kPeople || t == FieldType::kActions ||
         t == FieldType::kObjectList;
}

// Splits "a.b[2].c" into steps; `index_after[i]` is true when step i was
// followed by one or more "[n]". Returns false on a malformed path.
bool SplitPath(std::string_view path, std::vector<std::string_view>* steps,
               std::vector<bool>* indexed) {
  size_t i = 0;
  while (i <= path.size()) {
    size_t start = i;
    while (i < path.size() && path[i] != '.' && path[i] != '[') ++i;
    if (i == start) return false;
    steps->push_back(path.substr(start, i - start));
    bool idx = false;
    while (i < path.size() && path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos || close == i + 1) return false;
      for (size_t k = i + 1; k < close; ++k) {
        if (path[k] < '0' || path[k] > '9') return false;
      }
      idx = true;
      i = close + 1;
    }
    indexed->push_back(idx);
    if (i == path.size()) return true;
    if (path[i] != '.') return false;
    ++i;
  }
  return false;
}

// Resolves `path`; *element is set when the path ends on a list element.
const FieldSpec* Resolve(const std::vector<FieldSpec>& top,
                         std::string_view path, bool* element) {
  std::vector<std::string_view> steps;
  std::vector<bool> indexed;
  if (path.empty() || path.size() > 1024 ||
      !SplitPath(path, &steps, &indexed)) {
    return nullptr;
  }
  const std::vector<FieldSpec>* level = &top;
  const FieldSpec* spec = nullptr;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (level == nullptr) return nullptr;
    spec = FindIn(*level, steps[i]);
    if (spec == nullptr) return nullptr;
    if (indexed[i] && !IsListType(spec->type)) return nullptr;
    *element = indexed[i];
    // A list's children describe its elements; they are reached with or
    // without an index ("actions[0].due" or "actions.due").
    level = spec->children.empty() ? nullptr : &spec->children;
  }
  return spec;
}

}  // namespace

namespace internal {

std::vector<uint32_t> NameOrder(const std::vector<FieldSpec>& specs) {
  std::vector<uint32_t> order(specs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  // Were two specs to share a name, the first declared comes first.
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const int c = specs[a].name.compare(specs[b].name);
    return c != 0 ? c < 0 : a < b;
  });
  return order;
}

}  // namespace internal

bool ValidationResult::HasFlag(std::string_view flag) const {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

RecordSchema::RecordSchema(std::string name, int schema_version,
                           std::vector<FieldSpec> fields, RuleFn rules)
    : name_(std::move(name)),
      schema_version_(schema_version),
      fields_(std::move(fields)),
      fields_by_name_(internal::NameOrder(fields_)),
      rules_(rules) {
  // Every nested spec's order too, however deep (the schema's own depth).
  std::vector<std::vector<FieldSpec>*> todo{&fields_};
  while (!todo.empty()) {
    std::vector<FieldSpec>* specs = todo.back();
    todo.pop_back();
    for (FieldSpec& f : *specs) {
      f.children_by_name = internal::NameOrder(f.children);
      todo.push_back(&f.children);
    }
  }
}

const FieldSpec* RecordSchema::FindField(std::string_view name) const {
  return FindIn(fields_, name);
}

const FieldSpec* RecordSchema::FindPath(std::string_view path) const {
  bool element = false;
  return Resolve(fields_, path, &element);
}

MergeRule RecordSchema::MergeRuleForPath(std::string_view path) const {
  bool element = false;
  const FieldSpec* spec = Resolve(fields_, path, &element);
  if (spec == nullptr) return MergeRule::kScalar;
  return element ? MergeRule::kSet : spec->merge;
}

SchemaRegistry::SchemaRegistry(std::vector<RecordSchema> schemas)
    : schemas_(std::move(schemas)) {
  for (const RecordSchema& s : schemas_) names_.push_back(s.name());
}

const SchemaRegistry& SchemaRegistry::Default() {
  // Immutable after construction; C++11 guarantees thread-safe initialisation.
  static const SchemaRegistry* const kRegistry = new SchemaRegistry({
      internal::VisitNoteSchema(),
      internal::ReturnHomeInterviewSchema(),
      internal::PepUpdateSchema(),
      internal::PathwayPlanSchema(),
  });
  return *kRegistry;
}

const RecordSchema* SchemaRegistry::Find(std::string_view type) const {
  for (const RecordSchema& s : schemas_) {
    if (s.name() == type) return &s;
  }
  return nullptr;
}

}  // namespace doorstep::core
