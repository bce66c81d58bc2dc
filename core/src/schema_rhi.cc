// return_home_interview: after a child returns from a missing episode.
#include <algorithm>

#include "schema_internal.h"

namespace doorstep::core::internal {
namespace {

constexpr int64_t kLateAfterMs = int64_t{72} * 60 * 60 * 1000;

const std::vector<std::string>& Factors() {
  static const std::vector<std::string>* const kValues =
      new std::vector<std::string>{"family_conflict", "placement_unhappy",
                                   "school",          "bullying",
                                   "peer_influence",  "relationship",
                                   "exploitation",    "substances",
                                   "mental_health",   "other"};
  return *kValues;
}

const std::vector<std::string>& Indicators() {
  static const std::vector<std::string>* const kValues =
      new std::vector<std::string>{"sexual",      "criminal_county_lines",
                                   "trafficking", "substances",
                                   "online",      "none"};
  return *kValues;
}

// A completed interview records push (or pull) factors; the list may be
// empty only when its notes say why.
void RequireFactors(RuleContext& r, const char* list, const char* notes,
                    const char* words) {
  const nlohmann::json* v = r.Get(list);
  if (v == nullptr) {
    r.Add(list, "required",
          LabelFromName(list) +
              ": this must be filled in when the interview was completed "
              "(it may be an empty list if " +
              notes + " says why).");
  } else if (v->is_array() && v->empty() && r.IsBlank(notes)) {
    r.Add(notes, "required",
          LabelFromName(notes) + ": say why no " + words +
              " factors were identified.");
  }
}

bool AnyExploitationIndicator(const RuleContext& r) {
  const nlohmann::json* v = r.Get("exploitation_indicators");
  if (v == nullptr || !v->is_array()) return false;
  const std::vector<std::string>& known = Indicators();
  for (const nlohmann::json& e : *v) {
    if (!e.is_string()) continue;
    const std::string& s = e.get_ref<const std::string&>();
    if (s != "none" && std::find(known.begin(), known.end(), s) != known.end())
      return true;
  }
  return false;
}

void RhiRules(const nlohmann::json& fields, std::string_view /*status*/,
              const ValidationContext& /*ctx*/, ValidationResult* out) {
  RuleContext r(fields, out);
  const std::string outcome = r.GetString("outcome").value_or("");

  const std::optional<int64_t> missing = r.GetDateTimeMs("missing_from");
  const std::optional<int64_t> returned = r.GetDateTimeMs("returned_at");
  if (missing && returned && *returned < *missing) {
    r.Add("returned_at", "rule",
          "Returned at: must not be before the time the child went missing.");
  }

  if (outcome != "not_offered") {
    r.Require("offered_at", "unless the outcome is not_offered");
  }
  if (r.GetBool("interviewer_independent") == false) {
    r.Require("independence_justification",
              "when the interviewer is not independent");
  }
  if (outcome == "not_offered") {
    r.Require("not_offered_reason", "when the interview was not offered");
  }
  if (outcome == "completed") {
    const char* why = "when the interview was completed";
    r.Require("interview_at", why);
    r.Require("venue", why);
    RequireFactors(r, "push_factors", "push_notes", "push");
    RequireFactors(r, "pull_factors", "pull_notes", "pull");
    r.Require("harm_suffered", why);
    r.Require("exploitation_indicators", why);
    r.Require("child_views", why);
    r.Require("safety_info_given", why);
  }
  if (r.GetBool("harm_suffered") == true) {
    r.Require("harm_details", "when harm was suffered");
  }
  if (outcome == "declined" || outcome == "no_contact") {
    r.Require("carer_info",
              "when the child declined or could not be contacted");
  }

  const std::optional<int64_t> offered = r.GetDateTimeMs("offered_at");
  const std::optional<int64_t> held = r.GetDateTimeMs("interview_at");
  const bool late =
      returned && ((offered && *offered - *returned > kLateAfterMs) ||
                   (held && *held - *returned > kLateAfterMs));
  if (late) {
    r.Flag(kFlagRhiLate);
    r.Require("late_reason",
              "when the interview was offered or held more than 72 hours after "
              "the return");
  }
  if (AnyExploitationIndicator(r)) r.Flag(kFlagExploitationRisk);
}

}  // namespace

RecordSchema ReturnHomeInterviewSchema() {
  const char* completed = "outcome is completed";
  std::vector<FieldSpec> f = {
      String("episode_id"),
      DateTime("missing_from"),
      DateTime("returned_at"),
      String("police_reference", Presence::kOptional),
      When(DateTime("offered_at"), "outcome is not not_offered"),
      Labeled(String("interviewer_org"), "Interviewer organisation"),
      Bool("interviewer_independent"),
      When(Text("independence_justification"),
           "interviewer_independent is false"),
      Enum("outcome", {"completed", "declined", "no_contact", "not_offered"}),
      When(Text("not_offered_reason"), "outcome is not_offered"),
      When(DateTime("interview_at"), completed),
      When(String("venue"), completed),
      Text("where_stayed", Presence::kOptional),
      Text("with_whom", Presence::kOptional),
      When(EnumList("push_factors", Factors()), completed),
      When(Text("push_notes"), "push_factors is an empty list"),
      When(EnumList("pull_factors", Factors()), completed),
      When(Text("pull_notes"), "pull_factors is an empty list"),
      When(Bool("harm_suffered"), completed),
      When(Text("harm_details"), "harm_suffered is true"),
      When(EnumList("exploitation_indicators", Indicators()), completed),
      When(Text("child_views"), completed),
      Labeled(When(Bool("safety_info_given"), completed),
              "Safety information given"),
      When(Text("carer_info"), "outcome is declined or no_contact"),
      StringList("shared_with", Presence::kOptional),
      Actions("actions", Presence::kOptional),
      When(Text("late_reason"),
           "offered_at or interview_at is more than 72h after returned_at"),
  };
  return RecordSchema("return_home_interview", 1, std::move(f), &RhiRules);
}

}  // namespace doorstep::core::internal
