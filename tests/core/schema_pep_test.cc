// pep_update: every required field, required-when condition, rule and flag.
#include <gtest/gtest.h>

#include "schema_test_util.h"

namespace doorstep::core {
namespace {

using namespace testing;  // NOLINT: test fixture helpers

constexpr char kType[] = "pep_update";

json Pep() { return Sample(kType); }

TEST(SchemaPepTest, EachRequiredFieldMissingIsOneProblem) {
  for (const char* f : {"academic_year", "term", "meeting_date", "attendees",
                        "school_urn", "year_group", "attendance_pct",
                        "sen_status", "attainment", "new_targets"}) {
    json p = Pep();
    p.erase(f);
    EXPECT_ONLY_PROBLEM(Check(kType, p), f, "required");
  }
}

TEST(SchemaPepTest, OptionalFieldsMayBeAbsent) {
  json p = Pep();
  for (const char* f :
       {"suspensions_days", "pupil_premium_plus", "carer_contribution"}) {
    p.erase(f);
  }
  EXPECT_VALID(Check(kType, p));
}

// ---- academic_year YYYY-YY, consecutive years ----
TEST(SchemaPepTest, AcademicYearFormat) {
  json p = Pep();
  for (const char* ok : {"2025-26", "1999-00", "2099-00"}) {
    p["academic_year"] = ok;
    EXPECT_VALID(Check(kType, p)) << ok;
  }
  for (const char* bad :
       {"2025/26", "2025-2026", "25-26", "2025-2x", "2025-26 "}) {
    p["academic_year"] = bad;
    EXPECT_ONLY_PROBLEM(Check(kType, p), "academic_year", "type");
  }
  p["academic_year"] = "2025-27";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "academic_year", "range");
  p["academic_year"] = 2025;
  EXPECT_ONLY_PROBLEM(Check(kType, p), "academic_year", "type");
}

TEST(SchemaPepTest, TermValues) {
  json p = Pep();
  for (const char* t : {"autumn", "spring", "summer"}) {
    p["term"] = t;
    EXPECT_VALID(Check(kType, p));
  }
  p["term"] = "winter";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "term", "range");
}

// ---- attendees must include a designated teacher ----
TEST(SchemaPepTest, DesignatedTeacherMustAttend) {
  json p = Pep();
  p["attendees"].erase(0);  // the designated teacher
  EXPECT_ONLY_PROBLEM(Check(kType, p), "attendees", "rule");
  p["attendees"].push_back(
      {{"name", "Teacher G"}, {"role", "Designated Teacher"}});
  EXPECT_VALID(Check(kType, p));
}

// ---- school_urn: 6 digits ----
TEST(SchemaPepTest, SchoolUrnIsSixDigits) {
  json p = Pep();
  for (const char* bad : {"12345", "1234567", "12345a", "abcdef"}) {
    p["school_urn"] = bad;
    EXPECT_ONLY_PROBLEM(Check(kType, p), "school_urn", "type");
  }
  p["school_urn"] = 123456;  // a number is not the string the schema asks for
  EXPECT_ONLY_PROBLEM(Check(kType, p), "school_urn", "type");
  p["school_urn"] = "000123";
  EXPECT_VALID(Check(kType, p));
}

// ---- year_group -1..14 ----
TEST(SchemaPepTest, YearGroupRange) {
  json p = Pep();
  for (int y : {-1, 0, 14}) {
    p["year_group"] = y;
    EXPECT_VALID(Check(kType, p)) << y;
  }
  for (int y : {-2, 15}) {
    p["year_group"] = y;
    EXPECT_ONLY_PROBLEM(Check(kType, p), "year_group", "range");
  }
  p["year_group"] = 7.5;
  EXPECT_ONLY_PROBLEM(Check(kType, p), "year_group", "type");
  p["year_group"] = 7.0;  // a whole number written with a decimal point
  EXPECT_VALID(Check(kType, p));
  p["year_group"] = "7";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "year_group", "type");
}

// ---- attendance_pct 0..100; < 90 flags persistent_absence ----
TEST(SchemaPepTest, AttendancePercentAndPersistentAbsence) {
  json p = Pep();
  p["attendance_pct"] = 90;
  auto r = Check(kType, p);
  EXPECT_VALID(r);
  EXPECT_FALSE(r.HasFlag(kFlagPersistentAbsence));
  p["attendance_pct"] = 89.9;
  r = Check(kType, p);
  EXPECT_VALID(r);
  EXPECT_EQ(r.flags, std::vector<std::string>{"persistent_absence"});
  p["attendance_pct"] = 0;
  EXPECT_TRUE(Check(kType, p).HasFlag(kFlagPersistentAbsence));
  p["attendance_pct"] = 100;
  EXPECT_VALID(Check(kType, p));
  for (double bad : {-0.1, 100.5}) {
    p["attendance_pct"] = bad;
    r = Check(kType, p);
    EXPECT_ONLY_PROBLEM(r, "attendance_pct", "range");
    EXPECT_FALSE(r.HasFlag(kFlagPersistentAbsence));
  }
  p["attendance_pct"] = "95%";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "attendance_pct", "type");
}

// ---- suspensions_days int >= 0 ----
TEST(SchemaPepTest, SuspensionDaysNotNegative) {
  json p = Pep();
  p["suspensions_days"] = -1;
  EXPECT_ONLY_PROBLEM(Check(kType, p), "suspensions_days", "range");
  p["suspensions_days"] = 3;
  EXPECT_VALID(Check(kType, p));
}

TEST(SchemaPepTest, SenStatusValues) {
  json p = Pep();
  p["sen_status"] = "statement";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "sen_status", "range");
  p["sen_status"] = "ehcp";
  EXPECT_VALID(Check(kType, p));
}

TEST(SchemaPepTest, AttainmentEntriesNeedEveryPart) {
  json p = Pep();
  p["attainment"][1].erase("expected");
  EXPECT_ONLY_PROBLEM(Check(kType, p), "attainment[1].expected", "required");
}

// ---- previous_targets required unless first PEP ----
TEST(SchemaPepTest, PreviousTargetsRequiredUnlessFirstPep) {
  json p = Pep();
  p.erase("previous_targets");
  EXPECT_ONLY_PROBLEM(Check(kType, p), "previous_targets", "required");
  p["first_pep"] = false;
  EXPECT_ONLY_PROBLEM(Check(kType, p), "previous_targets", "required");
  p["first_pep"] = true;
  EXPECT_VALID(Check(kType, p));
  p["first_pep"] = "yes";
  const auto r = Check(kType, p);
  EXPECT_TRUE(HasProblem(r, "first_pep", "type")) << Describe(r);
}

TEST(SchemaPepTest, PreviousTargetOutcomeValues) {
  json p = Pep();
  p["previous_targets"][0]["outcome"] = "exceeded";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "previous_targets[0].outcome", "range");
  p["previous_targets"][0]["outcome"] = "not_met";
  EXPECT_VALID(Check(kType, p));
}

// ---- new_targets: at least one, each complete ----
TEST(SchemaPepTest, NewTargetsAtLeastOneAndComplete) {
  json p = Pep();
  p["new_targets"] = json::array();
  auto r = Check(kType, p);
  EXPECT_TRUE(HasProblem(r, "new_targets", "required")) << Describe(r);
  p = Pep();
  p["new_targets"][0]["by_when"] = "next term";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "new_targets[0].by_when", "type");
  p = Pep();
  p["new_targets"][1]["measure"] = "";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "new_targets[1].measure", "required");
}

// ---- pupil premium plus target_ref must name a new target ----
TEST(SchemaPepTest, PupilPremiumPlusMustReferToANewTarget) {
  json p = Pep();
  for (const char* ok :
       {"1", "2", " 2 ", "Attend the homework club twice a week."}) {
    p["pupil_premium_plus"][0]["target_ref"] = ok;
    EXPECT_VALID(Check(kType, p)) << ok;
  }
  for (const char* bad :
       {"0", "3", "Attend the homework club", "-1", "99999999999"}) {
    p["pupil_premium_plus"][0]["target_ref"] = bad;
    EXPECT_ONLY_PROBLEM(Check(kType, p), "pupil_premium_plus[0].target_ref",
                        "rule");
  }
  p["pupil_premium_plus"][0]["target_ref"] = "1";
  p["pupil_premium_plus"][0]["amount_gbp"] = -5;
  EXPECT_ONLY_PROBLEM(Check(kType, p), "pupil_premium_plus[0].amount_gbp",
                      "range");
  p["pupil_premium_plus"][0]["amount_gbp"] = "120";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "pupil_premium_plus[0].amount_gbp",
                      "type");
  p["pupil_premium_plus"][0]["amount_gbp"] = 120.50;
  EXPECT_VALID(Check(kType, p));
  p["pupil_premium_plus"][0].erase("target_ref");
  EXPECT_ONLY_PROBLEM(Check(kType, p), "pupil_premium_plus[0].target_ref",
                      "required");
}

// ---- child_voice or child_voice_missing_reason ----
TEST(SchemaPepTest, ChildVoiceOrAReason) {
  json p = Pep();
  p.erase("child_voice");
  EXPECT_ONLY_PROBLEM(Check(kType, p), "child_voice", "required");
  p["child_voice_missing_reason"] =
      "Child A was unwell and will be seen separately.";
  EXPECT_VALID(Check(kType, p));
}

TEST(SchemaPepTest, MeetingDateMustBeReal) {
  json p = Pep();
  p["meeting_date"] = "2025-09-31";
  EXPECT_ONLY_PROBLEM(Check(kType, p), "meeting_date", "type");
}

}  // namespace
}  // namespace doorstep::core
