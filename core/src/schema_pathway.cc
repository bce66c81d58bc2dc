// pathway_plan: a care leaver's pathway plan review.
#include "doorstep/core/timefmt.h"
#include "schema_internal.h"

namespace doorstep::core::internal {
namespace {

constexpr int kMaxMonthsBetweenReviews = 6;

FieldSpec Section(const char* key) {
  return Object(key, {Text("needs"), Actions("actions", Presence::kOptional),
                      Text("young_person_view")});
}

void PathwayRules(const nlohmann::json& fields, std::string_view /*status*/,
                  const ValidationContext& /*ctx*/, ValidationResult* out) {
  RuleContext r(fields, out);
  if (r.GetBool("accommodation_changed") == true) {
    r.Require("accommodation_suitability",
              "when the accommodation has changed");
  }
  const std::optional<int64_t> review = r.GetDateDays("review_date");
  const std::optional<int64_t> next = r.GetDateDays("next_review_due");
  if (review && next &&
      *next > AddCalendarMonths(*review, kMaxMonthsBetweenReviews)) {
    r.Add("next_review_due", "rule",
          "Next review due: must be no more than six months after the review "
          "date; the "
          "law requires a review at least every six months.");
  }
}

}  // namespace

RecordSchema PathwayPlanSchema() {
  std::vector<FieldSpec> sections;
  for (const char* key :
       {"contact_and_support", "education_training", "employment",
        "contingency", "accommodation", "relationships", "practical_skills",
        "finance", "health", "identity"}) {
    sections.push_back(Section(key));
  }
  std::vector<FieldSpec> suitability;
  for (const char* key :
       {"facilities", "state_of_repair", "safety", "location", "support",
        "tenancy", "affordability", "young_person_view"}) {
    suitability.push_back(Text(key));
  }
  std::vector<FieldSpec> f = {
      Enum("young_person_status",
           {"eligible", "relevant", "former_relevant", "qualifying"}),
      String("personal_adviser_id"),
      Date("review_date"),
      Enum("review_trigger", {"scheduled", "young_person_request",
                              "adviser_request", "change_of_circumstances"}),
      Object("sections", std::move(sections)),
      When(Object("accommodation_suitability", std::move(suitability)),
           "accommodation_changed is true"),
      Bool("accommodation_changed"),
      Text("young_person_agreement"),
      Date("next_review_due"),
  };
  return RecordSchema("pathway_plan", 1, std::move(f), &PathwayRules);
}

}  // namespace doorstep::core::internal
