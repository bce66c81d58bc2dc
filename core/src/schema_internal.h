// Private to core: builders for field specs, the four record-type schema
// factories, and the helpers the per-type rule functions share.
// Thread safety: pure functions and a per-call RuleContext.
#ifndef DOORSTEP_CORE_SCHEMA_INTERNAL_H_
#define DOORSTEP_CORE_SCHEMA_INTERNAL_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "doorstep/core/schema.h"

namespace doorstep::core::internal {

// Limits that keep hostile input from costing much (see docs/records.md).
inline constexpr size_t kMaxTextBytes = 100'000;
inline constexpr size_t kMaxStringBytes = 2'000;
inline constexpr size_t kMaxListItems = 1'000;

// ---- field spec builders (label defaults to the name in words) ----
FieldSpec Text(std::string name, Presence p = Presence::kRequired);
FieldSpec String(std::string name, Presence p = Presence::kRequired);
FieldSpec Enum(std::string name, std::vector<std::string> values,
               Presence p = Presence::kRequired);
FieldSpec Date(std::string name, Presence p = Presence::kRequired);
FieldSpec DateTime(std::string name, Presence p = Presence::kRequired);
FieldSpec Bool(std::string name, Presence p = Presence::kRequired);
FieldSpec Int(std::string name, int64_t min, int64_t max,
              Presence p = Presence::kRequired);
FieldSpec Number(std::string name, int64_t min, int64_t max,
                 Presence p = Presence::kRequired);
FieldSpec Percent(std::string name, Presence p = Presence::kRequired);
FieldSpec EnumList(std::string name, std::vector<std::string> values,
                   Presence p = Presence::kRequired);
FieldSpec StringList(std::string name, Presence p = Presence::kRequired);
FieldSpec People(std::string name, Presence p = Presence::kRequired);
FieldSpec Actions(std::string name, Presence p = Presence::kRequired);
FieldSpec Object(std::string name, std::vector<FieldSpec> children,
                 Presence p = Presence::kRequired);
FieldSpec ObjectList(std::string name, std::vector<FieldSpec> children,
                     Presence p = Presence::kRequired);
// Marks `f` as required only when `condition` (words, for docs) holds.
FieldSpec When(FieldSpec f, std::string condition);
FieldSpec Labeled(FieldSpec f, std::string label);

// The positions of `specs` in name order (std::string's order, which is the
// order a JSON object keeps its keys in): FieldSpec::children_by_name.
std::vector<uint32_t> NameOrder(const std::vector<FieldSpec>& specs);

// "visit_start" -> "Visit start".
std::string LabelFromName(std::string_view name);

// ---- the registered schemas ----
RecordSchema VisitNoteSchema();
RecordSchema ReturnHomeInterviewSchema();
RecordSchema PepUpdateSchema();
RecordSchema PathwayPlanSchema();

// ---- shared by Validate and the rule functions ----

// Appends a problem unless the cap is reached (the last slot then says so).
void AddProblem(ValidationResult* out, std::string path, std::string code,
                std::string message);

// A value counts as not filled in when it is null, a string of only
// whitespace, or an empty list.
bool IsBlankValue(const nlohmann::json& v);

// Checked, typed reads of a record's top-level fields for rule functions.
// Each getter returns nullopt when the field is absent, null, blank, or of the
// wrong type/format (the generic checks report the type problems).
// REQUIRES: `fields` is an object and outlives the context.
class RuleContext {
 public:
  RuleContext(const nlohmann::json& fields, ValidationResult* out)
      : fields_(fields), out_(out) {}

  const nlohmann::json* Get(
      std::string_view name) const;  // nullptr if absent/null
  std::optional<bool> GetBool(std::string_view name) const;
  std::optional<std::string> GetString(std::string_view name) const;
  std::optional<int64_t> GetDateTimeMs(std::string_view name) const;
  std::optional<int64_t> GetDateDays(std::string_view name) const;
  std::optional<double> GetNumber(std::string_view name) const;
  // True when absent, null, blank string or empty list (not when mistyped).
  bool IsBlank(std::string_view name) const;

  // A "required" problem at `name` when IsBlank(name); `why` completes the
  // sentence, e.g. "needed when the child was not seen".
  void Require(std::string_view name, std::string_view why);
  void Add(std::string path, std::string code, std::string message) {
    AddProblem(out_, std::move(path), std::move(code), std::move(message));
  }
  void Flag(const char* flag) { out_->flags.emplace_back(flag); }

 private:
  const nlohmann::json& fields_;
  ValidationResult* out_;
};

}  // namespace doorstep::core::internal

#endif  // DOORSTEP_CORE_SCHEMA_INTERNAL_H_
