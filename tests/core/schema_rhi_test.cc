// return_home_interview: every required field, required-when condition, rule
// and flag.
#include <gtest/gtest.h>

#include "doorstep/core/timefmt.h"
#include "schema_test_util.h"

namespace doorstep::core {
namespace {

using namespace testing;  // NOLINT: test fixture helpers

constexpr int64_t kHour = 3'600'000;
constexpr char kType[] = "return_home_interview";

json Rhi() { return Sample(kType); }

int64_t Returned(const json& r) {
  return *ParseDateTimeMs(r["returned_at"].get<std::string>());
}

// A declined interview: no completed-only fields.
json Declined() {
  json r = Rhi();
  for (const char* f :
       {"interview_at", "venue", "push_factors", "push_notes", "pull_factors",
        "pull_notes", "harm_suffered", "exploitation_indicators", "child_views",
        "safety_info_given"}) {
    r.erase(f);
  }
  r["outcome"] = "declined";
  r["carer_info"] =
      "Carer E said Child A stayed with a friend and seems well.\n";
  return r;
}

TEST(SchemaRhiTest, EachRequiredFieldMissingIsOneProblem) {
  for (const char* f :
       {"episode_id", "missing_from", "returned_at", "interviewer_org",
        "interviewer_independent", "outcome"}) {
    json r = Rhi();
    r.erase(f);
    const auto res = Check(kType, r);
    EXPECT_TRUE(HasProblem(res, f, "required")) << f << Describe(res);
    if (std::string(f) != "outcome") {
      EXPECT_EQ(res.problems.size(), 1u) << Describe(res);
    }
  }
}

TEST(SchemaRhiTest, OptionalFieldsMayBeAbsent) {
  json r = Rhi();
  for (const char* f : {"police_reference", "where_stayed", "with_whom",
                        "shared_with", "actions"}) {
    r.erase(f);
  }
  EXPECT_VALID(Check(kType, r));
}

// ---- rule: returned_at >= missing_from ----
TEST(SchemaRhiTest, ReturnedBeforeMissingIsRefused) {
  json r = Rhi();
  r["missing_from"] = FormatDateTimeMs(Returned(r) + 1);
  EXPECT_ONLY_PROBLEM(Check(kType, r), "returned_at", "rule");
  r["missing_from"] = r["returned_at"];
  EXPECT_VALID(Check(kType, r));
}

// ---- offered_at required unless outcome is not_offered ----
TEST(SchemaRhiTest, OfferedAtRequiredUnlessNotOffered) {
  json r = Declined();
  r.erase("offered_at");
  EXPECT_ONLY_PROBLEM(Check(kType, r), "offered_at", "required");
  r["outcome"] = "not_offered";
  r["not_offered_reason"] = "Child A moved out of area the same day.";
  r.erase("carer_info");
  EXPECT_VALID(Check(kType, r));
}

// ---- not_offered_reason when not_offered ----
TEST(SchemaRhiTest, NotOfferedNeedsAReason) {
  json r = Declined();
  r.erase("carer_info");
  r["outcome"] = "not_offered";
  EXPECT_ONLY_PROBLEM(Check(kType, r), "not_offered_reason", "required");
  r["not_offered_reason"] = "Placed out of area.";
  EXPECT_VALID(Check(kType, r));
}

// ---- independence_justification when not independent ----
TEST(SchemaRhiTest, NotIndependentNeedsJustification) {
  json r = Rhi();
  r["interviewer_independent"] = false;
  EXPECT_ONLY_PROBLEM(Check(kType, r), "independence_justification",
                      "required");
  r["independence_justification"] =
      "Child A asked for their own social worker.";
  EXPECT_VALID(Check(kType, r));
}

// ---- completed: interview_at, venue, factors, harm, indicators, views, safety
// ----
TEST(SchemaRhiTest, CompletedNeedsEachInterviewField) {
  for (const char* f : {"interview_at", "venue", "push_factors", "pull_factors",
                        "harm_suffered", "exploitation_indicators",
                        "child_views", "safety_info_given"}) {
    json r = Rhi();
    r.erase(f);
    EXPECT_ONLY_PROBLEM(Check(kType, r), f, "required");
  }
  EXPECT_VALID(Check(kType, Declined()));  // none needed when declined
}

TEST(SchemaRhiTest, ExploitationIndicatorsMustNotBeEmptyWhenCompleted) {
  json r = Rhi();
  r["exploitation_indicators"] = json::array();
  EXPECT_ONLY_PROBLEM(Check(kType, r), "exploitation_indicators", "required");
  r["exploitation_indicators"] = json::array({"none", "made_up"});
  EXPECT_ONLY_PROBLEM(Check(kType, r), "exploitation_indicators[1]", "range");
}

// ---- push/pull lists may be empty only with notes saying why ----
TEST(SchemaRhiTest, EmptyFactorListsNeedNotes) {
  json r = Rhi();
  r["push_factors"] = json::array();
  r.erase("push_notes");
  EXPECT_ONLY_PROBLEM(Check(kType, r), "push_notes", "required");
  r["push_notes"] = "Child A said nothing at home made them leave.";
  EXPECT_VALID(Check(kType, r));

  r = Rhi();
  r["pull_notes"] = " ";  // pull_factors is empty in the sample
  EXPECT_ONLY_PROBLEM(Check(kType, r), "pull_notes", "required");
  r["pull_factors"] = json::array({"peer_influence", "relationship"});
  EXPECT_VALID(Check(kType, r));
  r["pull_factors"] = json::array({"boredom"});
  EXPECT_ONLY_PROBLEM(Check(kType, r), "pull_factors[0]", "range");
}

// ---- harm_details when harm_suffered ----
TEST(SchemaRhiTest, HarmSufferedNeedsDetails) {
  json r = Rhi();
  r["harm_suffered"] = true;
  EXPECT_ONLY_PROBLEM(Check(kType, r), "harm_details", "required");
  r["harm_details"] = "A cut to the hand, treated at a walk-in centre.";
  EXPECT_VALID(Check(kType, r));
}

// ---- carer_info when declined or no_contact ----
TEST(SchemaRhiTest, DeclinedOrNoContactNeedsCarerInfo) {
  for (const char* outcome : {"declined", "no_contact"}) {
    json r = Declined();
    r["outcome"] = outcome;
    r.erase("carer_info");
    EXPECT_ONLY_PROBLEM(Check(kType, r), "carer_info", "required");
    r["carer_info"] = "Carer E reports Child A is eating and sleeping well.";
    EXPECT_VALID(Check(kType, r));
  }
}

// ---- rhi_late flag and late_reason required ----
TEST(SchemaRhiTest, OfferedAfter72HoursIsLate) {
  json r = Rhi();
  r["offered_at"] =
      FormatDateTimeMs(Returned(r) + 72 * kHour);  // exactly 72h: on time
  r["interview_at"] = FormatDateTimeMs(Returned(r) + 72 * kHour);
  auto res = Check(kType, r);
  EXPECT_VALID(res);
  EXPECT_FALSE(res.HasFlag(kFlagRhiLate));

  r["offered_at"] = FormatDateTimeMs(Returned(r) + 72 * kHour + 1);
  res = Check(kType, r);
  EXPECT_ONLY_PROBLEM(res, "late_reason", "required");
  EXPECT_TRUE(res.HasFlag(kFlagRhiLate));

  r["late_reason"] = "Child A was in hospital for three days after returning.";
  res = Check(kType, r);
  EXPECT_VALID(res);
  EXPECT_EQ(res.flags, std::vector<std::string>{"rhi_late"});
}

TEST(SchemaRhiTest, InterviewAfter72HoursIsLate) {
  json r = Rhi();
  r["interview_at"] = FormatDateTimeMs(Returned(r) + 80 * kHour);
  auto res = Check(kType, r);
  EXPECT_ONLY_PROBLEM(res, "late_reason", "required");
  EXPECT_TRUE(res.HasFlag(kFlagRhiLate));
  r["late_reason"] = "The interviewer was delayed by the weekend.";
  EXPECT_VALID(Check(kType, r));
}

// ---- exploitation_risk flag ----
TEST(SchemaRhiTest, AnyIndicatorOtherThanNoneFlagsExploitationRisk) {
  json r = Rhi();
  EXPECT_FALSE(Check(kType, r).HasFlag(kFlagExploitationRisk));
  for (const char* ind : {"sexual", "criminal_county_lines", "trafficking",
                          "substances", "online"}) {
    r["exploitation_indicators"] = json::array({ind});
    const auto res = Check(kType, r);
    EXPECT_VALID(res);
    EXPECT_EQ(res.flags, std::vector<std::string>{"exploitation_risk"}) << ind;
  }
  r["exploitation_indicators"] = json::array({"none", "online"});
  EXPECT_TRUE(Check(kType, r).HasFlag(kFlagExploitationRisk));
}

TEST(SchemaRhiTest, SharedWithIsAListOfStrings) {
  json r = Rhi();
  r["shared_with"] = json::array({"School", 3});
  EXPECT_ONLY_PROBLEM(Check(kType, r), "shared_with[1]", "type");
  r["shared_with"] = "School";
  EXPECT_ONLY_PROBLEM(Check(kType, r), "shared_with", "type");
}

TEST(SchemaRhiTest, OutcomeOutsideItsValues) {
  json r = Declined();
  r["outcome"] = "abandoned";
  const auto res = Check(kType, r);
  EXPECT_ONLY_PROBLEM(res, "outcome", "range");
}

}  // namespace
}  // namespace doorstep::core
