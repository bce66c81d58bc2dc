// visit_note: every required field, required-when condition, rule and flag.
#include <gtest/gtest.h>

#include "doorstep/core/timefmt.h"
#include "schema_test_util.h"

namespace doorstep::core {
namespace {

using namespace testing;  // NOLINT: test fixture helpers

constexpr int64_t kMinute = 60'000;

json Visit() { return Sample("visit_note"); }

TEST(SchemaVisitNoteTest, EachRequiredFieldMissingIsOneProblem) {
  for (const char* f :
       {"visit_type", "visit_start", "visit_end", "announced", "location",
        "persons_present", "child_seen", "purpose", "observations"}) {
    json v = Visit();
    v.erase(f);
    EXPECT_ONLY_PROBLEM(Check("visit_note", v), f, "required");
    v[f] = nullptr;  // null counts as missing
    EXPECT_ONLY_PROBLEM(Check("visit_note", v), f, "required");
  }
}

TEST(SchemaVisitNoteTest, BlankTextAndEmptyListsCountAsMissing) {
  json v = Visit();
  v["observations"] = " \n\t ";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "observations", "required");
  v = Visit();
  v["location"] = "";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "location", "required");
  v = Visit();
  v["persons_present"] = json::array();
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "persons_present", "required");
}

TEST(SchemaVisitNoteTest, OptionalFieldsMayBeAbsent) {
  json v = Visit();
  for (const char* f :
       {"bedroom_seen", "communication_method", "actions", "next_visit_due"}) {
    v.erase(f);
  }
  EXPECT_VALID(Check("visit_note", v));
}

TEST(SchemaVisitNoteTest, EnumsOnlyTakeTheirValues) {
  json v = Visit();
  v["visit_type"] = "home_visit";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "visit_type", "range");
  for (const char* t : {"child_in_care", "child_protection", "child_in_need",
                        "private_fostering"}) {
    v["visit_type"] = t;
    EXPECT_VALID(Check("visit_note", v));
  }
}

TEST(SchemaVisitNoteTest, NestedPeopleAndActionsHaveIndexedPaths) {
  json v = Visit();
  v["persons_present"][1].erase("role");
  v["actions"][0]["due"] = "2025-02-30";
  v["actions"][1]["owner"] = 7;
  v["persons_present"][0]["age"] = 9;
  const auto r = Check("visit_note", v);
  EXPECT_EQ(r.problems.size(), 4u) << Describe(r);
  EXPECT_TRUE(HasProblem(r, "persons_present[1].role", "required"))
      << Describe(r);
  EXPECT_TRUE(HasProblem(r, "actions[0].due", "type")) << Describe(r);
  EXPECT_TRUE(HasProblem(r, "actions[1].owner", "type")) << Describe(r);
  EXPECT_TRUE(HasProblem(r, "persons_present[0].age", "type")) << Describe(r);
}

TEST(SchemaVisitNoteTest, UnknownFieldIsAProblem) {
  json v = Visit();
  v["colour_of_door"] = "blue";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "colour_of_door", "type");
  const auto r = Check("visit_note", v);
  EXPECT_NE(r.problems[0].message.find("unknown field"), std::string::npos);
}

// ---- rule: visit_end >= visit_start (error) ----
TEST(SchemaVisitNoteTest, VisitEndBeforeStartIsRefused) {
  json v = Visit();
  v["visit_end"] =
      FormatDateTimeMs(kNowMs - 3 * 60 * kMinute);  // before the start
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "visit_end", "rule");
  v["visit_end"] = v["visit_start"];  // equal is fine
  EXPECT_VALID(Check("visit_note", v));
  // Offsets are honoured: 15:00+01:00 is 14:00Z, before a 14:30Z start.
  v["visit_start"] = "2025-11-03T14:00:00Z";
  v["visit_end"] = "2025-11-03T14:30:00+01:00";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "visit_end", "rule");
  v["visit_end"] = "2025-11-03T14:30:00-01:00";
  EXPECT_VALID(Check("visit_note", v));
}

// ---- rule: visit_start no more than 10 minutes in the future (error) ----
TEST(SchemaVisitNoteTest, VisitStartFarInTheFutureIsRefused) {
  json v = Visit();
  v["visit_start"] = FormatDateTimeMs(kNowMs + 10 * kMinute);
  v["visit_end"] = FormatDateTimeMs(kNowMs + 70 * kMinute);
  EXPECT_VALID(Check("visit_note", v));
  v["visit_start"] = FormatDateTimeMs(kNowMs + 10 * kMinute + 1);
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "visit_start", "rule");
}

TEST(SchemaVisitNoteTest, DateTimeWithoutOffsetIsATypeProblem) {
  json v = Visit();
  v["visit_start"] = "2025-11-03T12:00:00";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "visit_start", "type");
  v = Visit();
  v["next_visit_due"] = "03/12/2025";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "next_visit_due", "type");
}

// ---- child_seen = false: flag child_not_seen; not_seen_reason required ----
TEST(SchemaVisitNoteTest, ChildNotSeenNeedsAReasonAndIsFlagged) {
  json v = Visit();
  v["child_seen"] = false;
  v.erase("seen_alone");
  auto r = Check("visit_note", v);
  EXPECT_ONLY_PROBLEM(r, "not_seen_reason", "required");
  EXPECT_TRUE(r.HasFlag(kFlagChildNotSeen));
  v["not_seen_reason"] =
      "Child A was at a school trip; no one else at home knew.\n";
  r = Check("visit_note", v);
  EXPECT_VALID(r);
  EXPECT_EQ(r.flags, std::vector<std::string>{"child_not_seen"});
  EXPECT_FALSE(Check("visit_note", Visit()).HasFlag(kFlagChildNotSeen));
}

// ---- seen_alone required when child_seen is true ----
TEST(SchemaVisitNoteTest, SeenAloneRequiredWhenChildSeen) {
  json v = Visit();
  v.erase("seen_alone");
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "seen_alone", "required");
  v["child_seen"] = false;
  v["not_seen_reason"] = "Not at home.";
  EXPECT_VALID(Check("visit_note", v));
}

// ---- seen_alone = false: flag not_seen_alone; not_alone_reason required ----
TEST(SchemaVisitNoteTest, NotSeenAloneNeedsAReasonAndIsFlagged) {
  json v = Visit();
  v["seen_alone"] = false;
  auto r = Check("visit_note", v);
  EXPECT_ONLY_PROBLEM(r, "not_alone_reason", "required");
  EXPECT_TRUE(r.HasFlag(kFlagNotSeenAlone));
  v["not_alone_reason"] = "child_refused";
  r = Check("visit_note", v);
  EXPECT_VALID(r);
  EXPECT_EQ(r.flags, std::vector<std::string>{"not_seen_alone"});
  v["not_alone_reason"] = "too_busy";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "not_alone_reason", "range");
}

// ---- wishes_and_feelings required, or not_seen_reason ----
TEST(SchemaVisitNoteTest, WishesAndFeelingsOrNotSeenReason) {
  json v = Visit();
  v.erase("wishes_and_feelings");
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "wishes_and_feelings",
                      "required");
  v["wishes_and_feelings"] = "   ";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "wishes_and_feelings",
                      "required");
  v["not_seen_reason"] = "Child A was asleep after a hospital appointment.";
  EXPECT_VALID(Check("visit_note", v));
}

TEST(SchemaVisitNoteTest, ChildNotSeenWithNothingSaidGivesBothProblems) {
  json v = Visit();
  v["child_seen"] = false;
  v.erase("seen_alone");
  v.erase("wishes_and_feelings");
  const auto r = Check("visit_note", v);
  EXPECT_EQ(r.problems.size(), 2u) << Describe(r);
  EXPECT_TRUE(HasProblem(r, "not_seen_reason", "required"));
  EXPECT_TRUE(HasProblem(r, "wishes_and_feelings", "required"));
}

// ---- analysis required for final only ----
TEST(SchemaVisitNoteTest, AnalysisRequiredOnlyWhenFinal) {
  json v = Visit();
  v.erase("analysis");
  EXPECT_VALID(Check("visit_note", v, "draft"));
  EXPECT_ONLY_PROBLEM(Check("visit_note", v, "final"), "analysis", "required");
  v["analysis"] = "\n\n";
  EXPECT_ONLY_PROBLEM(Check("visit_note", v, "final"), "analysis", "required");
}

TEST(SchemaVisitNoteTest, BothFlagsAtOnce) {
  json v = Visit();
  v["child_seen"] = false;
  v["seen_alone"] = false;
  v["not_seen_reason"] = "Refused to come to the door.";
  v["not_alone_reason"] = "unable";
  const auto r = Check("visit_note", v);
  EXPECT_VALID(r);
  EXPECT_EQ(r.flags,
            (std::vector<std::string>{"child_not_seen", "not_seen_alone"}));
}

}  // namespace
}  // namespace doorstep::core
