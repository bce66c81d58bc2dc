// visit_note: a statutory, child-protection or child-in-need visit.
#include "schema_internal.h"

namespace doorstep::core::internal {
namespace {

constexpr int64_t kFutureSlackMs = 10 * 60 * 1000;

void VisitNoteRules(const nlohmann::json& fields, std::string_view status,
                    const ValidationContext& ctx, ValidationResult* out) {
  RuleContext r(fields, out);

  const std::optional<bool> seen = r.GetBool("child_seen");
  if (seen == false) {
    r.Flag(kFlagChildNotSeen);
    r.Require("not_seen_reason", "when the child was not seen");
  }
  if (seen == true) r.Require("seen_alone", "when the child was seen");
  if (r.GetBool("seen_alone") == false) {
    r.Flag(kFlagNotSeenAlone);
    r.Require("not_alone_reason", "when the child was not seen alone");
  }
  if (r.IsBlank("wishes_and_feelings") && r.IsBlank("not_seen_reason")) {
    r.Add("wishes_and_feelings", "required",
          "Wishes and feelings: record the child's wishes and feelings in "
          "their own "
          "words, or say why the child was not seen.");
  }
  if (status == "final") r.Require("analysis", "before the note is final");

  const std::optional<int64_t> start = r.GetDateTimeMs("visit_start");
  const std::optional<int64_t> end = r.GetDateTimeMs("visit_end");
  if (start && end && *end < *start) {
    r.Add("visit_end", "rule",
          "Visit end: must not be before the visit start.");
  }
  if (start && *start > ctx.now_ms + kFutureSlackMs) {
    r.Add("visit_start", "rule",
          "Visit start: is more than 10 minutes in the future by this device's "
          "clock; "
          "record a visit once it has started, or check the device's date and "
          "time.");
  }
}

}  // namespace

RecordSchema VisitNoteSchema() {
  std::vector<FieldSpec> f = {
      Enum("visit_type", {"child_in_care", "child_protection", "child_in_need",
                          "private_fostering"}),
      DateTime("visit_start"),
      DateTime("visit_end"),
      Bool("announced"),
      String("location"),
      People("persons_present"),
      Bool("child_seen"),
      When(Text("not_seen_reason"), "child_seen is false"),
      When(Bool("seen_alone"), "child_seen is true"),
      When(Enum("not_alone_reason",
                {"child_refused", "inappropriate", "unable"}),
           "seen_alone is false"),
      Bool("bedroom_seen", Presence::kOptional),
      Text("purpose"),
      Text("observations"),
      When(Text("wishes_and_feelings"), "not_seen_reason is blank"),
      String("communication_method", Presence::kOptional),
      When(Text("analysis"), "status is final"),
      Actions("actions", Presence::kOptional),
      Date("next_visit_due", Presence::kOptional),
  };
  return RecordSchema("visit_note", 1, std::move(f), &VisitNoteRules);
}

}  // namespace doorstep::core::internal
