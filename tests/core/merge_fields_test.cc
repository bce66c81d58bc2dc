#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doorstep/core/merge.h"

namespace doorstep::core {
namespace {

using nlohmann::json;

// Rules shaped like a visit note plus a pathway-plan-like nested object.
MergeRule TestRule(std::string_view path) {
  if (path == "purpose" || path == "observations") return MergeRule::kLines;
  if (path == "persons_present" || path == "actions" || path == "flags") return MergeRule::kSet;
  if (path == "sections" || path == "sections.health" || path == "sections.finance") {
    return MergeRule::kObject;
  }
  if (path == "sections.health.needs" || path == "sections.finance.needs") return MergeRule::kLines;
  if (path == "sections.health.actions") return MergeRule::kSet;
  return MergeRule::kScalar;
}

const json kBase = json::parse(R"({
  "visit_type": "child_in_need",
  "location": "Home",
  "child_seen": true,
  "purpose": "Check in.\nDiscuss school.\nPlan next visit.\n",
  "persons_present": [{"name": "Child A", "role": "child"},
                      {"name": "Carer 1", "role": "carer"}],
  "actions": [{"action": "Call school", "owner": "Worker 1", "due": "2025-01-10"}],
  "flags": ["a", "b", "c"],
  "sections": {
    "health": {"needs": "GP visit.\nDentist.\n", "young_person_view": "Fine."},
    "finance": {"needs": "Budget.\n"}
  }
})");

TEST(MergeFieldsTest, OneSideChangedTakesIt) {
  json server = kBase;
  server["location"] = "School";
  json device = kBase;
  device["child_seen"] = false;
  device.erase("visit_type");
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  json expected = kBase;
  expected["location"] = "School";
  expected["child_seen"] = false;
  expected.erase("visit_type");
  EXPECT_EQ(r.merged, expected);
}

TEST(MergeFieldsTest, UnchangedSidesAndIdenticalChanges) {
  json edited = kBase;
  edited["location"] = "Office";
  EXPECT_EQ(MergeFields(kBase, edited, kBase, TestRule).merged, edited);
  EXPECT_EQ(MergeFields(kBase, kBase, edited, TestRule).merged, edited);
  FieldsMergeResult r = MergeFields(kBase, edited, edited, TestRule);
  EXPECT_EQ(r.merged, edited);
  EXPECT_TRUE(r.conflicts.empty());
  // Identical change to one field while other fields differ.
  json server = edited, device = edited;
  server["visit_type"] = "child_protection";
  device["announced"] = true;
  r = MergeFields(kBase, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.merged["location"], "Office");
  EXPECT_EQ(r.merged["visit_type"], "child_protection");
  EXPECT_EQ(r.merged["announced"], true);
}

TEST(MergeFieldsTest, ScalarChangedDifferentlyConflicts) {
  json server = kBase, device = kBase;
  server["location"] = "School";
  device["location"] = "Library";
  device["child_seen"] = false;
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  ASSERT_EQ(r.conflicts.size(), 1u);
  const FieldConflict& c = r.conflicts[0];
  EXPECT_EQ(c.path, "location");
  EXPECT_EQ(c.base, "Home");
  EXPECT_EQ(c.server, "School");
  EXPECT_EQ(c.device, "Library");
  EXPECT_EQ(r.merged["location"], "School");  // server provisionally
  EXPECT_EQ(r.merged["child_seen"], false);   // other fields still merge
}

TEST(MergeFieldsTest, TextFieldsMergeLineByLine) {
  json server = kBase, device = kBase;
  server["purpose"] = "Check in with Child A.\nDiscuss school.\nPlan next visit.\n";
  device["purpose"] = "Check in.\nDiscuss school.\nPlan next visit for March.\n";
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.merged["purpose"],
            "Check in with Child A.\nDiscuss school.\nPlan next visit for March.\n");
}

TEST(MergeFieldsTest, OverlappingTextEditsConflict) {
  json server = kBase, device = kBase;
  server["purpose"] = "Check in.\nDiscuss school and friends.\nPlan next visit.\n";
  device["purpose"] = "Check in.\nDiscuss college.\nPlan next visit.\n";
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].path, "purpose");
  EXPECT_EQ(r.conflicts[0].server, server["purpose"]);
  EXPECT_EQ(r.conflicts[0].device, device["purpose"]);
  EXPECT_EQ(r.conflicts[0].base, kBase["purpose"]);
  EXPECT_EQ(r.merged["purpose"], server["purpose"]);
}

TEST(MergeFieldsTest, TextAddedOnBothSidesFromNothing) {
  json base = json::object(), server = base, device = base;
  server["observations"] = "Calm.\n";
  device["observations"] = "Quiet.\n";
  FieldsMergeResult r = MergeFields(base, server, device, TestRule);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_TRUE(r.conflicts[0].base.is_null());
  device["observations"] = "Calm.\n";
  r = MergeFields(base, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.merged["observations"], "Calm.\n");
}

TEST(MergeFieldsTest, SetUnionWithRemovalsOnBothSides) {
  json server = kBase, device = kBase;
  server["flags"] = {"a", "c", "s1"};        // removed b, added s1
  device["flags"] = {"d1", "a", "b", "d2"};  // removed c, added d1, d2
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.merged["flags"], json({"a", "s1", "d1", "d2"}));
  // Swapped: server's order first, then the other side's additions.
  r = MergeFields(kBase, device, server, TestRule);
  EXPECT_EQ(r.merged["flags"], json({"d1", "a", "d2", "s1"}));
}

TEST(MergeFieldsTest, SetAddedByBothOnceAndRemovedByBoth) {
  json server = kBase, device = kBase;
  server["flags"] = {"a", "x"};
  device["flags"] = {"x", "a", "y"};
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.merged["flags"], json({"a", "x", "y"}));
}

TEST(MergeFieldsTest, PeopleAndActionsMergeAsSetsOfObjects) {
  json server = kBase, device = kBase;
  server["persons_present"].push_back({{"name", "Worker 2"}, {"role", "social_worker"}});
  device["persons_present"].erase(1);  // Carer 1 was not there after all
  device["persons_present"].push_back({{"role", "teacher"}, {"name", "Teacher 1"}});
  // An action edited on the server (due date) and a new action on the device.
  server["actions"][0]["due"] = "2025-01-17";
  device["actions"].push_back({{"action", "Book review"}, {"owner", "Worker 1"}, {"due", "2025-02-01"}});
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.merged["persons_present"], json::parse(R"([
    {"name": "Child A", "role": "child"},
    {"name": "Worker 2", "role": "social_worker"},
    {"name": "Teacher 1", "role": "teacher"}])"));
  EXPECT_EQ(r.merged["actions"], json::parse(R"([
    {"action": "Call school", "owner": "Worker 1", "due": "2025-01-17"},
    {"action": "Book review", "owner": "Worker 1", "due": "2025-02-01"}])"));
}

TEST(MergeFieldsTest, SetEditedOnBothSidesKeepsBothVersions) {
  json server = kBase, device = kBase;
  server["actions"][0]["due"] = "2025-01-17";
  device["actions"][0]["owner"] = "Worker 2";
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  ASSERT_EQ(r.merged["actions"].size(), 2u);  // neither edit is dropped
  EXPECT_EQ(r.merged["actions"][0], server["actions"][0]);
  EXPECT_EQ(r.merged["actions"][1], device["actions"][0]);
}

TEST(MergeFieldsTest, NestedObjectsMergeWithConflictsAtTheirPath) {
  json server = kBase, device = kBase;
  server["sections"]["health"]["needs"] = "GP visit booked.\nDentist.\n";
  device["sections"]["health"]["needs"] = "GP visit done.\nDentist.\n";
  server["sections"]["health"]["young_person_view"] = "Happy.";
  device["sections"]["finance"]["needs"] = "Budget.\nBank account.\n";
  device["sections"]["health"]["actions"] = json::array({"Register with GP"});
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].path, "sections.health.needs");
  EXPECT_EQ(r.conflicts[0].base, "GP visit.\nDentist.\n");
  EXPECT_EQ(r.conflicts[0].server, "GP visit booked.\nDentist.\n");
  EXPECT_EQ(r.conflicts[0].device, "GP visit done.\nDentist.\n");
  const json& s = r.merged["sections"];
  EXPECT_EQ(s["health"]["needs"], "GP visit booked.\nDentist.\n");
  EXPECT_EQ(s["health"]["young_person_view"], "Happy.");
  EXPECT_EQ(s["health"]["actions"], json::array({"Register with GP"}));
  EXPECT_EQ(s["finance"]["needs"], "Budget.\nBank account.\n");
}

TEST(MergeFieldsTest, DeletionAgainstEditConflicts) {
  json server = kBase, device = kBase;
  server.erase("location");
  device["location"] = "School";
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].path, "location");
  EXPECT_TRUE(r.conflicts[0].server.is_null());
  EXPECT_EQ(r.conflicts[0].device, "School");
  EXPECT_FALSE(r.merged.contains("location"));  // the server's deletion, provisionally

  // Deleted text against edited text, deleted list against edited list.
  server = kBase;
  device = kBase;
  server["purpose"] = nullptr;  // null is the same as absent
  device["purpose"] = "Changed.\n";
  device.erase("flags");
  server["flags"] = {"a"};
  r = MergeFields(kBase, server, device, TestRule);
  ASSERT_EQ(r.conflicts.size(), 2u);
  EXPECT_EQ(r.conflicts[0].path, "flags");
  EXPECT_TRUE(r.conflicts[0].device.is_null());
  EXPECT_EQ(r.conflicts[1].path, "purpose");
  EXPECT_TRUE(r.conflicts[1].server.is_null());
  EXPECT_EQ(r.merged["flags"], json({"a"}));
  EXPECT_FALSE(r.merged.contains("purpose"));
}

TEST(MergeFieldsTest, DeletedOnBothSidesOrOneSide) {
  json server = kBase, device = kBase;
  server.erase("location");
  device.erase("location");
  device["announced"] = true;
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_FALSE(r.merged.contains("location"));
  EXPECT_EQ(r.merged["announced"], true);
}

TEST(MergeFieldsTest, WrongTypesConflictInsteadOfThrowing) {
  json server = kBase, device = kBase;
  server["purpose"] = 42;
  device["purpose"] = "Text.\n";
  server["flags"] = "not a list";
  device["flags"] = {"a"};
  server["sections"] = json::array();
  device["sections"]["finance"]["needs"] = "More.\n";
  FieldsMergeResult r = MergeFields(kBase, server, device, TestRule);
  ASSERT_EQ(r.conflicts.size(), 3u);
  EXPECT_EQ(r.conflicts[0].path, "flags");
  EXPECT_EQ(r.conflicts[1].path, "purpose");
  EXPECT_EQ(r.conflicts[2].path, "sections");
  // Non-object inputs conflict as a whole.
  r = MergeFields(kBase, json("x"), json::array(), TestRule);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].path, "");
  EXPECT_EQ(r.merged, "x");
}

TEST(MergeFieldsTest, RuleIsConsultedOnlyWhenBothSidesChanged) {
  std::vector<std::string> asked;
  MergeRuleFn rule = [&asked](std::string_view path) {
    asked.emplace_back(path);
    return TestRule(path);
  };
  json server = kBase, device = kBase;
  server["location"] = "School";
  device["child_seen"] = false;
  server["sections"]["finance"]["needs"] = "A.\n";
  device["sections"]["finance"]["needs"] = "B.\n";
  FieldsMergeResult r = MergeFields(kBase, server, device, rule);
  EXPECT_EQ(asked, (std::vector<std::string>{"sections", "sections.finance",
                                             "sections.finance.needs"}));
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].path, "sections.finance.needs");
}

TEST(MergeFieldsTest, DeepNestingIsBounded) {
  MergeRuleFn all_objects = [](std::string_view) { return MergeRule::kObject; };
  json base = "leaf", server = "s", device = "d";
  for (int i = 0; i < 200; ++i) {
    base = json{{"k", base}};
    server = json{{"k", server}};
    device = json{{"k", device}};
  }
  FieldsMergeResult r = MergeFields(base, server, device, all_objects);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_LT(r.conflicts[0].path.size(), 2u * 40);
}

TEST(MergeFieldsTest, NullBaseMeansNewRecordOnBothSides) {
  json server = {{"location", "Home"}, {"flags", {"a"}}};
  json device = {{"location", "Home"}, {"flags", {"b"}}, {"announced", true}};
  FieldsMergeResult r = MergeFields(nullptr, server, device, TestRule);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.merged, json::parse(R"({"location":"Home","flags":["a","b"],"announced":true})"));
}

}  // namespace
}  // namespace doorstep::core
