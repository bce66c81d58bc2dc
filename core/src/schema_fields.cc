// Field spec builders: the vocabulary the per-type schema files are written in.
#include <utility>

#include "schema_internal.h"

namespace doorstep::core::internal {
namespace {

FieldSpec Make(std::string name, FieldType type, MergeRule merge, Presence p) {
  FieldSpec f;
  f.label = LabelFromName(name);
  f.name = std::move(name);
  f.type = type;
  f.merge = merge;
  f.presence = p;
  return f;
}

}  // namespace

std::string LabelFromName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '_') c = ' ';
  }
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z')
    out[0] = static_cast<char>(out[0] - 32);
  return out;
}

FieldSpec Text(std::string name, Presence p) {
  return Make(std::move(name), FieldType::kText, MergeRule::kLines, p);
}
FieldSpec String(std::string name, Presence p) {
  return Make(std::move(name), FieldType::kString, MergeRule::kScalar, p);
}
FieldSpec Enum(std::string name, std::vector<std::string> values, Presence p) {
  FieldSpec f = Make(std::move(name), FieldType::kEnum, MergeRule::kScalar, p);
  f.enum_values = std::move(values);
  return f;
}
FieldSpec Date(std::string name, Presence p) {
  return Make(std::move(name), FieldType::kDate, MergeRule::kScalar, p);
}
FieldSpec DateTime(std::string name, Presence p) {
  return Make(std::move(name), FieldType::kDateTime, MergeRule::kScalar, p);
}
FieldSpec Bool(std::string name, Presence p) {
  return Make(std::move(name), FieldType::kBool, MergeRule::kScalar, p);
}
FieldSpec Int(std::string name, int64_t min, int64_t max, Presence p) {
  FieldSpec f = Make(std::move(name), FieldType::kInt, MergeRule::kScalar, p);
  f.min = min;
  f.max = max;
  f.has_range = true;
  return f;
}
FieldSpec Number(std::string name, int64_t min, int64_t max, Presence p) {
  FieldSpec f =
      Make(std::move(name), FieldType::kNumber, MergeRule::kScalar, p);
  f.min = min;
  f.max = max;
  f.has_range = true;
  return f;
}
FieldSpec Percent(std::string name, Presence p) {
  FieldSpec f =
      Make(std::move(name), FieldType::kPercent, MergeRule::kScalar, p);
  f.min = 0;
  f.max = 100;
  f.has_range = true;
  return f;
}
FieldSpec EnumList(std::string name, std::vector<std::string> values,
                   Presence p) {
  FieldSpec f = Make(std::move(name), FieldType::kEnumList, MergeRule::kSet, p);
  f.enum_values = std::move(values);
  return f;
}
FieldSpec StringList(std::string name, Presence p) {
  return Make(std::move(name), FieldType::kStringList, MergeRule::kSet, p);
}
FieldSpec People(std::string name, Presence p) {
  FieldSpec f = Make(std::move(name), FieldType::kPeople, MergeRule::kSet, p);
  f.children = {String("name"), String("role")};
  return f;
}
FieldSpec Actions(std::string name, Presence p) {
  FieldSpec f = Make(std::move(name), FieldType::kActions, MergeRule::kSet, p);
  f.children = {String("action"), String("owner"),
                Labeled(Date("due"), "Due date")};
  return f;
}
FieldSpec Object(std::string name, std::vector<FieldSpec> children,
                 Presence p) {
  FieldSpec f =
      Make(std::move(name), FieldType::kObject, MergeRule::kObject, p);
  f.children = std::move(children);
  return f;
}
FieldSpec ObjectList(std::string name, std::vector<FieldSpec> children,
                     Presence p) {
  FieldSpec f =
      Make(std::move(name), FieldType::kObjectList, MergeRule::kSet, p);
  f.children = std::move(children);
  return f;
}
FieldSpec When(FieldSpec f, std::string condition) {
  f.presence = Presence::kConditional;
  f.required_when = std::move(condition);
  return f;
}
FieldSpec Labeled(FieldSpec f, std::string label) {
  f.label = std::move(label);
  return f;
}

}  // namespace doorstep::core::internal
