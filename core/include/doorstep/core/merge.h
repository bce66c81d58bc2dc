// Three-way merge of concurrent edits against their common base: the rules of
// DESIGN.md "Clocks, revisions and merge"; docs/merge.md explains them.
//
// MergeLines merges narrative text line by line (diff3 style). MergeFields
// merges a record's `fields` object field by field, each field by the
// MergeRule the schema gives its dotted path. Neither ever drops a side: what
// cannot be merged is reported as a conflict, with the server's value kept
// provisionally.
//
// Thread safety: pure functions of their arguments; safe from any thread.
// They never log and never throw for any JSON input.
#ifndef DOORSTEP_CORE_MERGE_H_
#define DOORSTEP_CORE_MERGE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/schema.h"  // MergeRule

namespace doorstep::core {

// Texts larger than either limit are not diffed: unless one side left the
// base unchanged or both sides are equal, MergeLines reports a conflict with
// too_large set.
inline constexpr size_t kMergeMaxTextBytes = 4u << 20;  // 4 MiB
inline constexpr size_t kMergeMaxTextLines = 100'000;

struct TextMergeResult {
  bool conflict = false;
  // Set (with conflict) when an input exceeded the size limits above.
  bool too_large = false;
  // The merged text when !conflict; when conflict, the server text
  // (provisional, as the record keeps it until someone resolves the conflict).
  std::string merged;
};

// The lines of `text` as MergeLines sees them: each keeps its '\n'; a last
// line without one is returned as it is. Views into `text`.
std::vector<std::string_view> SplitLines(std::string_view text);

// Line-level three-way merge. Lines end at '\n' and keep it ("\r\n" stays as
// is; a last line without '\n' is a different line from the same line with
// one). A change of one side is taken if the other side left that region of
// the base unchanged. It is a conflict when both sides changed overlapping
// base lines, inserted at the same place, or one inserted right at the edge
// of a region the other changed — unless both produced the same lines there.
// Changes to adjacent but disjoint line ranges merge cleanly.
// Guarantees: MergeLines(b, x, b) == x, MergeLines(b, b, x) == x,
// MergeLines(b, x, x) == x, and swapping server and device gives the same
// conflict flag and, without conflict, the same text.
TextMergeResult MergeLines(std::string_view base, std::string_view server,
                           std::string_view device);

// Gives the merge rule of a dotted field path ("purpose",
// "sections.health.needs"), e.g. RecordSchema::MergeRuleForPath.
using MergeRuleFn = std::function<MergeRule(std::string_view dotted_path)>;

// A field both sides changed in ways that cannot be combined. An absent field
// (deleted, or never set) is JSON null here: a JSON null and an absent key
// mean the same thing throughout MergeFields.
struct FieldConflict {
  std::string path;  // dotted, e.g. "sections.health.needs"
  nlohmann::json base;
  nlohmann::json server;
  nlohmann::json device;
};

struct FieldsMergeResult {
  // The merged fields object. At each conflicting path it holds the server's
  // value (or lacks the key if the server deleted it).
  nlohmann::json merged;
  // In path order; empty when the merge is clean.
  std::vector<FieldConflict> conflicts;
};

// Three-way merge of two objects derived from `base` (a record's `fields`;
// null counts as {}). Per field: changed on one side only → that side; both
// to equal values → that value; otherwise by rule(path):
//   kLines  (strings) MergeLines; overlapping edits → conflict;
//   kSet    (arrays) union of both sides' additions, minus elements either
//           side removed; order: server's order, then the device's additions
//           in the device's order; elements compared by JSON equality and
//           the result holds each element once;
//   kObject (objects) merged key by key, paths "a.b";
//   kScalar conflict.
// A value of the wrong type for its rule (a deletion against an edit, a
// string where a list belongs) is a conflict. Objects nested deeper than 32
// levels are compared whole. `rule` is not called when only one side changed
// a field.
FieldsMergeResult MergeFields(const nlohmann::json& base,
                              const nlohmann::json& server,
                              const nlohmann::json& device,
                              const MergeRuleFn& rule);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_MERGE_H_
