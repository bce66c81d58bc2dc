// The registry, path lookups, merge rules, samples and problem rendering.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "doorstep/core/samples.h"
#include "doorstep/core/schema.h"
#include "schema_internal.h"
#include "schema_test_util.h"

namespace doorstep::core {
namespace {

using nlohmann::json;
using testing::Check;
using testing::Describe;
using testing::HasProblem;
using testing::Sample;

TEST(SchemaRegistryTest, HasTheFourTypesAtVersionOne) {
  const SchemaRegistry& reg = SchemaRegistry::Default();
  const std::vector<std::string> want = {"visit_note", "return_home_interview",
                                         "pep_update", "pathway_plan"};
  EXPECT_EQ(reg.TypeNames(), want);
  for (const std::string& name : want) {
    const RecordSchema* s = reg.Find(name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_EQ(s->name(), name);
    EXPECT_EQ(s->schema_version(), 1);
    EXPECT_NE(s->rules(), nullptr);
  }
  EXPECT_EQ(&SchemaRegistry::Default(), &reg);
}

// Each level's field names are unique, so a key of a record names at most
// one field (Validate walks the keys and the names side by side).
void ExpectUniqueNames(const std::vector<FieldSpec>& fields, const std::string& where) {
  std::set<std::string> seen;
  for (const FieldSpec& f : fields) {
    EXPECT_TRUE(seen.insert(f.name).second) << where << ": field " << f.name << " twice";
    ExpectUniqueNames(f.children, where + "." + f.name);
  }
}

TEST(SchemaRegistryTest, FieldNamesAreUniqueAtEveryLevel) {
  for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
    ExpectUniqueNames(SchemaRegistry::Default().Find(type)->fields(), type);
  }
}

TEST(SchemaRegistryTest, UnknownFieldBesideKnownOnesIsReported) {
  json fields = Sample("visit_note");
  fields["not_a_field"] = "x";
  EXPECT_TRUE(HasProblem(Check("visit_note", fields), "not_a_field", "type"));
}

// Validate finds each field's value by walking the object's keys (which a
// JSON object keeps in byte order) beside the schema's names in
// children_by_name order: the two orders must agree for any names.
TEST(SchemaRegistryTest, NameOrderIsTheOrderAJsonObjectKeepsItsKeysIn) {
  const std::vector<std::string> names = {"b", "B", "_x", "a_b", "ab", "a", "A1", "a1", "z", "\xc3\xa9t\xc3\xa9", "~"};
  std::vector<FieldSpec> specs;
  json object = json::object();
  for (const std::string& n : names) {
    FieldSpec f;
    f.name = n;
    specs.push_back(f);
    object[n] = 1;
  }
  const std::vector<uint32_t> order = internal::NameOrder(specs);
  ASSERT_EQ(order.size(), names.size());
  size_t k = 0;
  for (auto it = object.begin(); it != object.end(); ++it, ++k) {
    EXPECT_EQ(specs[order[k]].name, it.key()) << k;
  }
  // And RecordSchema fills every level's order.
  for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
    const RecordSchema* schema = SchemaRegistry::Default().Find(type);
    EXPECT_EQ(schema->fields_by_name(), internal::NameOrder(schema->fields())) << type;
    std::vector<const FieldSpec*> todo;
    for (const FieldSpec& f : schema->fields()) todo.push_back(&f);
    while (!todo.empty()) {
      const FieldSpec* f = todo.back();
      todo.pop_back();
      EXPECT_EQ(f->children_by_name, internal::NameOrder(f->children)) << type << "." << f->name;
      for (const FieldSpec& c : f->children) todo.push_back(&c);
    }
  }
}

// Unknown keys before, between and after the known ones, at the top level
// and inside a list's entries, are each reported once, after the known
// fields' problems (which keep the schema's order); the known fields beside
// them are still checked.
TEST(SchemaRegistryTest, UnknownKeysAnywhereInKeyOrderAreEachReportedOnce) {
  json fields = Sample("visit_note");
  fields["0_first"] = 1;           // sorts before every field
  fields["child_seen_x"] = true;    // between two fields
  fields["zz_last"] = "x";         // after every field
  fields["announced"] = "yes";     // a known field, wrong type
  fields["visit_type"] = 7;        // another, later in the schema's order
  fields["persons_present"][1]["aaa"] = 1;
  fields["persons_present"][1]["role_x"] = 1;
  fields["persons_present"][1]["role"] = 5;
  const ValidationResult r = Check("visit_note", fields);
  std::vector<std::string> paths;
  for (const Problem& p : r.problems) paths.push_back(p.path + "/" + p.code);
  const std::vector<std::string> want = {
      "visit_type/type",  // the schema's order: visit_type is declared before announced
      "announced/type",
      "persons_present[1].role/type",
      "persons_present[1].aaa/type",  // an entry's unknown keys after its fields
      "persons_present[1].role_x/type",
      "0_first/type",  // the top level's unknown keys last, in key order
      "child_seen_x/type",
      "zz_last/type"};
  EXPECT_EQ(paths, want) << Describe(r);
}

// A field name declared twice in one level (no registered schema does:
// FieldNamesAreUniqueAtEveryLevel) is checked twice against the one value.
TEST(SchemaRegistryTest, AFieldNameDeclaredTwiceChecksTheOneValueTwice) {
  FieldSpec as_text;
  as_text.name = "n";
  as_text.label = "N";
  as_text.type = FieldType::kString;
  as_text.presence = Presence::kRequired;
  FieldSpec as_int = as_text;
  as_int.type = FieldType::kInt;
  FieldSpec other = as_text;
  other.name = "m";
  const RecordSchema schema("twice", 1, {as_text, other, as_int}, nullptr);
  const ValidationResult r = Validate(schema, json{{"n", "x"}, {"m", "y"}}, "draft", ValidationContext{});
  ASSERT_EQ(r.problems.size(), 1u) << Describe(r);
  EXPECT_EQ(r.problems[0].path, "n");
  EXPECT_EQ(r.problems[0].code, "type");
  const ValidationResult absent = Validate(schema, json{{"m", "y"}}, "draft", ValidationContext{});
  EXPECT_EQ(absent.problems.size(), 2u) << Describe(absent);
}

TEST(SchemaRegistryTest, UnknownTypeIsNull) {
  EXPECT_EQ(SchemaRegistry::Default().Find("visit"), nullptr);
  EXPECT_EQ(SchemaRegistry::Default().Find(""), nullptr);
  EXPECT_EQ(SchemaRegistry::Default().Find("VISIT_NOTE"), nullptr);
}

TEST(SchemaRegistryTest, SamplesAreValidAndUnflagged) {
  for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
    const auto fields = Sample(type);
    ASSERT_TRUE(fields.is_object()) << type;
    for (const char* status : {"draft", "final"}) {
      const ValidationResult r = Check(type, fields, status);
      EXPECT_TRUE(r.ok()) << type << " " << status << Describe(r);
      EXPECT_TRUE(r.flags.empty()) << type << Describe(r);
    }
  }
  EXPECT_TRUE(SampleFields("nope", testing::kNowMs).is_null());
}

TEST(SchemaRegistryTest, SamplesAreValidAtOtherTimes) {
  // Months that move the academic year and term, and a 31st (month clamping).
  for (int64_t ms : {int64_t{1'704'067'200'000} /*2024-01-01*/,
                     int64_t{1'725'148'800'000} /*2024-09-01*/,
                     int64_t{1'756'598'400'000} /*2025-08-31*/}) {
    for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
      ValidationContext ctx;
      ctx.now_ms = ms;
      const RecordSchema* s = SchemaRegistry::Default().Find(type);
      const ValidationResult r =
          Validate(*s, SampleFields(type, ms), "final", ctx);
      EXPECT_TRUE(r.ok()) << type << " at " << ms << Describe(r);
    }
  }
}

TEST(SchemaRegistryTest, VisitNoteSampleIsAboutOneKilobyteOfMultiLineText) {
  const auto f = Sample("visit_note");
  size_t text = 0;
  for (const char* k :
       {"purpose", "observations", "wishes_and_feelings", "analysis"}) {
    const std::string& s = f[k].get_ref<const std::string&>();
    EXPECT_NE(s.find('\n'), s.rfind('\n')) << k << " has several lines";
    text += s.size();
  }
  EXPECT_GT(f.dump().size(), 1000u);
  EXPECT_GT(text, 700u);
  EXPECT_LT(f.dump().size(), 3000u);
}

TEST(SchemaRegistryTest, FindPathResolvesNestedAndIndexedPaths) {
  const RecordSchema& s = *SchemaRegistry::Default().Find("pathway_plan");
  ASSERT_NE(s.FindPath("sections.health.needs"), nullptr);
  EXPECT_EQ(s.FindPath("sections.health.needs")->type, FieldType::kText);
  EXPECT_EQ(s.FindPath("sections.health.actions[0].due")->type,
            FieldType::kDate);
  EXPECT_EQ(s.FindPath("sections.health.actions.due")->type, FieldType::kDate);
  EXPECT_EQ(s.FindPath("sections.nowhere"), nullptr);
  EXPECT_EQ(s.FindPath("sections..health"), nullptr);
  EXPECT_EQ(s.FindPath("sections[0]"), nullptr);  // not a list
  EXPECT_EQ(s.FindPath("sections.health.actions[x]"), nullptr);
  EXPECT_EQ(s.FindPath(""), nullptr);
  EXPECT_EQ(s.FindPath("review_date."), nullptr);
  const RecordSchema& v = *SchemaRegistry::Default().Find("visit_note");
  EXPECT_EQ(v.FindPath("persons_present[1].role")->name, "role");
  EXPECT_EQ(v.FindField("observations")->type, FieldType::kText);
  EXPECT_EQ(v.FindField("nope"), nullptr);
}

TEST(SchemaRegistryTest, MergeRulesFollowFieldTypes) {
  const auto& reg = SchemaRegistry::Default();
  const RecordSchema& v = *reg.Find("visit_note");
  EXPECT_EQ(v.MergeRuleForPath("observations"), MergeRule::kLines);
  EXPECT_EQ(v.MergeRuleForPath("visit_type"), MergeRule::kScalar);
  EXPECT_EQ(v.MergeRuleForPath("visit_start"), MergeRule::kScalar);
  EXPECT_EQ(v.MergeRuleForPath("child_seen"), MergeRule::kScalar);
  EXPECT_EQ(v.MergeRuleForPath("persons_present"), MergeRule::kSet);
  EXPECT_EQ(v.MergeRuleForPath("actions"), MergeRule::kSet);
  EXPECT_EQ(v.MergeRuleForPath("actions[2]"), MergeRule::kSet);
  EXPECT_EQ(v.MergeRuleForPath("actions[2].due"), MergeRule::kScalar);
  EXPECT_EQ(v.MergeRuleForPath("unknown"), MergeRule::kScalar);
  const RecordSchema& p = *reg.Find("pathway_plan");
  EXPECT_EQ(p.MergeRuleForPath("sections"), MergeRule::kObject);
  EXPECT_EQ(p.MergeRuleForPath("sections.health"), MergeRule::kObject);
  EXPECT_EQ(p.MergeRuleForPath("sections.health.needs"), MergeRule::kLines);
  EXPECT_EQ(p.MergeRuleForPath("sections.health.actions"), MergeRule::kSet);
  EXPECT_EQ(p.MergeRuleForPath("accommodation_suitability.safety"),
            MergeRule::kLines);
  EXPECT_EQ(p.MergeRuleForPath("sections.health.bogus"), MergeRule::kScalar);
  const RecordSchema& r = *reg.Find("return_home_interview");
  EXPECT_EQ(r.MergeRuleForPath("push_factors"), MergeRule::kSet);
  EXPECT_EQ(r.MergeRuleForPath("shared_with"), MergeRule::kSet);
  EXPECT_EQ(r.MergeRuleForPath("late_reason"), MergeRule::kLines);
  const RecordSchema& e = *reg.Find("pep_update");
  EXPECT_EQ(e.MergeRuleForPath("new_targets"), MergeRule::kSet);
  EXPECT_EQ(e.MergeRuleForPath("attendance_pct"), MergeRule::kScalar);
  EXPECT_EQ(e.MergeRuleForPath("new_targets[0].description"),
            MergeRule::kLines);
}

MergeRule ExpectedRule(FieldType t) {
  switch (t) {
    case FieldType::kText:
      return MergeRule::kLines;
    case FieldType::kObject:
      return MergeRule::kObject;
    case FieldType::kEnumList:
    case FieldType::kStringList:
    case FieldType::kPeople:
    case FieldType::kActions:
    case FieldType::kObjectList:
      return MergeRule::kSet;
    default:
      return MergeRule::kScalar;
  }
}

void ExpectRules(const RecordSchema& s, const std::vector<FieldSpec>& specs,
                 const std::string& prefix) {
  for (const FieldSpec& f : specs) {
    const std::string path = prefix + f.name;
    EXPECT_EQ(f.merge, ExpectedRule(f.type)) << path;
    EXPECT_EQ(s.MergeRuleForPath(path), ExpectedRule(f.type)) << path;
    ExpectRules(s, f.children, path + ".");
  }
}

TEST(SchemaRegistryTest, EveryFieldMergesByItsType) {
  for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
    const RecordSchema& s = *SchemaRegistry::Default().Find(type);
    ExpectRules(s, s.fields(), "");
  }
}

TEST(SchemaRegistryTest, ConditionalFieldsSayWhen) {
  for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
    for (const FieldSpec& f : SchemaRegistry::Default().Find(type)->fields()) {
      EXPECT_FALSE(f.label.empty()) << f.name;
      EXPECT_EQ(f.presence == Presence::kConditional, !f.required_when.empty())
          << f.name;
      if (f.type == FieldType::kEnum || f.type == FieldType::kEnumList) {
        EXPECT_FALSE(f.enum_values.empty()) << f.name;
      }
    }
  }
}

TEST(SchemaRegistryTest, ProblemsToJsonKeepsOrderAndFields) {
  const auto j =
      ProblemsToJson({{"a.b", "required", "A: this must be filled in."},
                      {"c[0]", "type", "C: must be text."}});
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["path"], "a.b");
  EXPECT_EQ(j[0]["code"], "required");
  EXPECT_EQ(j[1]["message"], "C: must be text.");
  EXPECT_TRUE(ProblemsToJson({}).is_array());
  EXPECT_TRUE(ProblemsToJson({}).empty());
}

TEST(SchemaRegistryTest, StatusMustBeDraftOrFinal) {
  const auto r = Check("visit_note", Sample("visit_note"), "done");
  EXPECT_TRUE(HasProblem(r, "status", "range")) << Describe(r);
  EXPECT_EQ(r.problems.size(), 1u);
}

TEST(SchemaRegistryTest, PepTermKey) {
  auto f = Sample("pep_update");
  f["academic_year"] = "2025-26";
  f["term"] = "autumn";
  EXPECT_EQ(PepTermKey(f).value_or(""), "2025-26/autumn");
  f["term"] = "winter";
  EXPECT_FALSE(PepTermKey(f).has_value());
  f["term"] = "spring";
  f["academic_year"] = "2025-27";
  EXPECT_FALSE(PepTermKey(f).has_value());
  f["academic_year"] = 2025;
  EXPECT_FALSE(PepTermKey(f).has_value());
  f.erase("academic_year");
  EXPECT_FALSE(PepTermKey(f).has_value());
  EXPECT_FALSE(PepTermKey(json::array()).has_value());
  EXPECT_FALSE(PepTermKey(json()).has_value());
  f["academic_year"] = "2099-00";
  EXPECT_EQ(PepTermKey(f).value_or(""), "2099-00/spring");
}

TEST(SchemaRegistryTest, MessagesNeverEchoValues) {
  auto f = Sample("visit_note");
  f["location"] = 12345;
  f["visit_type"] = "SECRET-VALUE-XYZ";
  f["observations"] = json::array({"SECRET-VALUE-XYZ"});
  const auto r = Check("visit_note", f);
  ASSERT_EQ(r.problems.size(), 3u) << Describe(r);
  for (const Problem& p : r.problems) {
    EXPECT_EQ(p.message.find("SECRET"), std::string::npos) << p.message;
    EXPECT_EQ(p.message.find("12345"), std::string::npos) << p.message;
    EXPECT_FALSE(p.message.empty());
  }
}

}  // namespace
}  // namespace doorstep::core
