// pathway_plan: every required field, the ten sections, suitability, six
// months.
#include <gtest/gtest.h>

#include "doorstep/core/timefmt.h"
#include "schema_test_util.h"

namespace doorstep::core {
namespace {

using namespace testing;  // NOLINT: test fixture helpers

constexpr char kType[] = "pathway_plan";
const char* const kSections[] = {"contact_and_support",
                                 "education_training",
                                 "employment",
                                 "contingency",
                                 "accommodation",
                                 "relationships",
                                 "practical_skills",
                                 "finance",
                                 "health",
                                 "identity"};

json Plan() { return Sample(kType); }

TEST(SchemaPathwayTest, EachRequiredFieldMissingIsOneProblem) {
  for (const char* f :
       {"young_person_status", "personal_adviser_id", "review_date",
        "review_trigger", "sections", "accommodation_changed",
        "young_person_agreement", "next_review_due"}) {
    json p = Plan();
    p.erase(f);
    EXPECT_ONLY_PROBLEM(Check(kType, p), f, "required");
  }
}

TEST(SchemaPathwayTest, EnumValues) {
  json p = Plan();
  p["young_person_status"] = "former";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "young_person_status", "range");
  p = Plan();
  p["review_trigger"] = "whenever";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "review_trigger", "range");
}

// ---- sections: exactly the ten keys (a missing key is an error) ----
TEST(SchemaPathwayTest, EveryMissingSectionIsAProblem) {
  for (const char* s : kSections) {
    json p = Plan();
    p["sections"].erase(s);
    EXPECT_ONLY_PROBLEM(Check(kType, p), std::string("sections.") + s,
                        "required");
  }
  json p = Plan();
  p["sections"] = json::object();
  const auto r = Check(kType, p);
  EXPECT_EQ(r.problems.size(), 10u) << Describe(r);
}

TEST(SchemaPathwayTest, ExtraSectionIsAProblem) {
  json p = Plan();
  p["sections"]["hobbies"] = p["sections"]["health"];
  EXPECT_ONLY_PROBLEM(Check(kType, p), "sections.hobbies", "type");
}

// ---- each section: needs and young_person_view non-blank; "no change" is fine
// ----
TEST(SchemaPathwayTest, SectionTextMayNotBeBlankButNoChangeIsFine) {
  json p = Plan();
  p["sections"]["health"]["needs"] = "  \n";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "sections.health.needs", "required");
  p["sections"]["health"]["needs"] = "no change";
  EXPECT_VALID(Check(kType, p));
  p["sections"]["finance"].erase("young_person_view");
  EXPECT_ONLY_PROBLEM(Check(kType, p), "sections.finance.young_person_view",
                      "required");
  p["sections"]["finance"]["young_person_view"] = "No change.";
  p["sections"]["finance"]["actions"][0]["due"] = "soon";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "sections.finance.actions[0].due",
                      "type");
  p["sections"]["finance"]["actions"] = json::array();  // no actions is fine
  EXPECT_VALID(Check(kType, p));
  p["sections"]["finance"]["notes"] = "x";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "sections.finance.notes", "type");
  p["sections"]["finance"] = "no change";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "sections.finance", "type");
}

// ---- accommodation_suitability when accommodation changed ----
TEST(SchemaPathwayTest, SuitabilityRequiredWhenAccommodationChanged) {
  json p = Plan();
  p.erase("accommodation_suitability");
  EXPECT_ONLY_PROBLEM(Check(kType, p), "accommodation_suitability", "required");
  p["accommodation_changed"] = false;
  EXPECT_VALID(Check(kType, p));
}

TEST(SchemaPathwayTest, SuitabilityNeedsAllEightParts) {
  for (const char* k :
       {"facilities", "state_of_repair", "safety", "location", "support",
        "tenancy", "affordability", "young_person_view"}) {
    json p = Plan();
    p["accommodation_suitability"][k] = "";
    EXPECT_ONLY_PROBLEM(Check(kType, p),
                        std::string("accommodation_suitability.") + k,
                        "required");
  }
}

// ---- next_review_due within six calendar months ----
TEST(SchemaPathwayTest, NextReviewWithinSixMonths) {
  json p = Plan();
  p["review_date"] = "2025-08-31";
  p["next_review_due"] = "2026-02-28";  // 31 Aug + 6 months, clamped
  EXPECT_VALID(Check(kType, p));
  p["next_review_due"] = "2026-03-01";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "next_review_due", "rule");
  p["review_date"] = "2025-05-10";
  p["next_review_due"] = "2025-11-10";
  EXPECT_VALID(Check(kType, p));
  p["next_review_due"] = "2025-11-11";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "next_review_due", "rule");
  p["next_review_due"] = "2025-31-11";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "next_review_due", "type");
}

}  // namespace
}  // namespace doorstep::core
