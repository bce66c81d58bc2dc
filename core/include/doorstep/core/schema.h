// Record schemas and validation: the contract of shared/RECORDS.md in code.
//
// Each record type (visit_note, return_home_interview, pep_update,
// pathway_plan) has one RecordSchema: its field specs (type, allowed enum
// values, whether required, merge rule) plus the domain rules that
// RECORDS.md lists. Validate() checks a record's `fields` object against it
// and returns every problem at once, each with a field path
// (`sections.health.needs`, `persons_present[1].role`) and a code, together
// with the flags the rules set (`child_not_seen`, `rhi_late`, ...). A flag
// never refuses a record; a problem does. See docs/records.md for the choices
// made where RECORDS.md is silent.
//
// Ownership: SchemaRegistry::Default() is immutable, built on first use and
// lives for the whole process; the RecordSchema pointers it hands out never
// dangle. Thread safety: everything here is const after construction and safe
// to use from any thread. Validate() never throws and never echoes a field's
// value in a message (messages may be logged; values are case content).
#ifndef DOORSTEP_CORE_SCHEMA_H_
#define DOORSTEP_CORE_SCHEMA_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace doorstep::core {

enum class FieldType {
  kText,      // narrative string, merged line by line
  kString,    // short string
  kEnum,      // one of `enum_values`
  kDate,      // "YYYY-MM-DD"
  kDateTime,  // ISO 8601 with offset
  kBool,
  kInt,         // integer within [min, max]
  kNumber,      // any finite number within [min, max] (e.g. amount_gbp)
  kPercent,     // number 0..100
  kEnumList,    // list of enum values
  kStringList,  // list of strings
  kPeople,      // list of {name, role}
  kActions,     // list of {action, owner, due}
  kObject,      // object with exactly the keys in `children`
  kObjectList,  // list of objects with the keys in `children`
};

// How the three-way merge combines concurrent edits of a field.
enum class MergeRule {
  kLines,   // text: line-level three-way merge; overlapping edits conflict
  kSet,     // lists, people, actions, object lists: union of additions,
            // removals honoured
  kObject,  // merge per key, each by its own rule
  kScalar,  // conflict if both sides changed it to different values
};

enum class Presence {
  kRequired,     // must be present (text/string non-blank, list non-empty)
  kOptional,     // may be absent or null
  kConditional,  // required only when a rule says so (see `required_when`)
};

struct FieldSpec {
  std::string name;   // JSON key
  std::string label;  // words a practitioner reads
  FieldType type = FieldType::kString;
  Presence presence = Presence::kOptional;
  std::string required_when;  // for kConditional: the condition, in words
  MergeRule merge = MergeRule::kScalar;
  std::vector<std::string> enum_values;  // kEnum, kEnumList
  int64_t min = 0;                       // kInt, kNumber (when has_range)
  int64_t max = 0;
  bool has_range = false;
  std::vector<FieldSpec> children;  // kObject, kObjectList, kPeople, kActions
  // `children`'s positions in name order (byte order, as a JSON object keeps
  // its keys). Filled by RecordSchema's constructor, so Validate walks a
  // record's object and its spec side by side instead of searching the
  // object once per field.
  std::vector<uint32_t> children_by_name;
};

struct Problem {
  std::string path;  // e.g. "sections.health.needs", "" for the whole record
  std::string code;  // "required" | "type" | "range" | "rule"
  std::string
      message;  // a sentence a practitioner understands, naming the field
};

struct ValidationContext {
  int64_t now_ms =
      0;  // the device clock (UTC ms), for the 10-minutes-future rule
};

struct ValidationResult {
  std::vector<Problem> problems;   // empty when the record may be saved
  std::vector<std::string> flags;  // sorted, unique
  bool ok() const { return problems.empty(); }
  bool HasFlag(std::string_view flag) const;
};

// A type's domain rules (required-when conditions, cross-field rules and
// flags). They read `fields` with checked access only and append to `out`.
using RuleFn = void (*)(const nlohmann::json& fields, std::string_view status,
                        const ValidationContext& ctx, ValidationResult* out);

class RecordSchema {
 public:
  RecordSchema(std::string name, int schema_version,
               std::vector<FieldSpec> fields, RuleFn rules);

  const std::string& name() const { return name_; }
  int schema_version() const { return schema_version_; }
  const std::vector<FieldSpec>& fields() const { return fields_; }
  // fields()'s positions in name order (as FieldSpec::children_by_name).
  const std::vector<uint32_t>& fields_by_name() const { return fields_by_name_; }
  RuleFn rules() const { return rules_; }

  // The top-level field called `name`, or nullptr.
  const FieldSpec* FindField(std::string_view name) const;
  // The spec a dotted path names, list indices ignored:
  // "sections.health.needs", "persons_present[1].role", "actions". nullptr
  // when any step is unknown.
  const FieldSpec* FindPath(std::string_view path) const;
  // The merge rule for a dotted path (as FindPath). An element of a list
  // ("actions[0]") merges as the list does (kSet). Unknown paths: kScalar.
  MergeRule MergeRuleForPath(std::string_view path) const;

 private:
  std::string name_;
  int schema_version_;
  std::vector<FieldSpec> fields_;
  std::vector<uint32_t> fields_by_name_;
  RuleFn rules_;
};

class SchemaRegistry {
 public:
  explicit SchemaRegistry(std::vector<RecordSchema> schemas);

  // The four record types of RECORDS.md, each at schema_version 1.
  static const SchemaRegistry& Default();

  // The schema for `type`, or nullptr for an unknown type (the caller reports
  // it, e.g. as kInvalidArgument "unknown record type").
  const RecordSchema* Find(std::string_view type) const;
  // Type names in registration order.
  const std::vector<std::string>& TypeNames() const { return names_; }

 private:
  std::vector<RecordSchema> schemas_;
  std::vector<std::string> names_;
};

// Checks `fields` (the record's field object, untrusted) against `schema` for
// a record whose status is `status` ("draft" or "final"; anything else is a
// problem at path "status"). Returns every problem found (capped at
// kMaxProblems, the last one then saying so) and the flags the rules set.
// Never throws, whatever `fields` holds.
ValidationResult Validate(const RecordSchema& schema,
                          const nlohmann::json& fields, std::string_view status,
                          const ValidationContext& ctx) noexcept;

inline constexpr size_t kMaxProblems = 200;

// [{"path":…, "code":…, "message":…}, …] in the order given.
nlohmann::json ProblemsToJson(const std::vector<Problem>& problems);

// The key the store uses to spot two pep_update records for the same meeting
// (flag `duplicate_term`, which needs other records and so is not set by
// Validate): "<academic_year>/<term>", e.g. "2025-26/autumn". nullopt when
// either field is missing or malformed.
std::optional<std::string> PepTermKey(const nlohmann::json& fields);

// Flag names, for callers that match on them.
inline constexpr char kFlagChildNotSeen[] = "child_not_seen";
inline constexpr char kFlagNotSeenAlone[] = "not_seen_alone";
inline constexpr char kFlagRhiLate[] = "rhi_late";
inline constexpr char kFlagExploitationRisk[] = "exploitation_risk";
inline constexpr char kFlagPersistentAbsence[] = "persistent_absence";
inline constexpr char kFlagDuplicateTerm[] = "duplicate_term";

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_SCHEMA_H_
