// Validate() on wrong types everywhere, hostile JSON, and many problems at
// once.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <utility>

#include "schema_test_util.h"

namespace doorstep::core {
namespace {

using namespace testing;  // NOLINT: test fixture helpers

// A value of the wrong JSON type for every field type.
json WrongTypeFor(FieldType t) {
  switch (t) {
    case FieldType::kText:
    case FieldType::kString:
    case FieldType::kEnum:
    case FieldType::kDate:
    case FieldType::kDateTime:
      return 42;
    case FieldType::kBool:
      return "yes";
    case FieldType::kInt:
    case FieldType::kNumber:
    case FieldType::kPercent:
      return "12";
    case FieldType::kEnumList:
    case FieldType::kStringList:
    case FieldType::kPeople:
    case FieldType::kActions:
    case FieldType::kObjectList:
      return json::object({{"a", 1}});
    case FieldType::kObject:
      return json::array({1});
  }
  return nullptr;
}

TEST(SchemaHostileTest, WrongTypeOnEveryFieldOfEveryType) {
  for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
    const RecordSchema& s = *SchemaRegistry::Default().Find(type);
    for (const FieldSpec& f : s.fields()) {
      json v = Sample(type);
      v[f.name] = WrongTypeFor(f.type);
      const auto r = Check(type, v);
      EXPECT_TRUE(HasProblem(r, f.name, "type"))
          << type << "." << f.name << Describe(r);
    }
    // And all at once: one type problem per field, nothing else at those paths.
    json all = json::object();
    for (const FieldSpec& f : s.fields()) all[f.name] = WrongTypeFor(f.type);
    const auto r = Check(type, all);
    for (const FieldSpec& f : s.fields()) {
      EXPECT_TRUE(HasProblem(r, f.name, "type")) << type << "." << f.name;
    }
  }
}

TEST(SchemaHostileTest, WrongTypeInsideListElements) {
  json v = Sample("visit_note");
  v["persons_present"] = json::array({"Child A", nullptr, json::array(), 5});
  const auto r = Check("visit_note", v);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(
        HasProblem(r, "persons_present[" + std::to_string(i) + "]", "type"))
        << i << Describe(r);
  }
}

TEST(SchemaHostileTest, FiveProblemsAllReported) {
  json v = Sample("visit_note");
  v.erase("location");                      // required
  v["announced"] = "no";                    // type
  v["visit_type"] = "drop_in";              // range
  v["visit_end"] = "2025-11-03T10:00:00Z";  // rule: before the start
  v["mood"] = "fine";                       // unknown field
  const auto r = Check("visit_note", v);
  EXPECT_EQ(r.problems.size(), 5u) << Describe(r);
  EXPECT_TRUE(HasProblem(r, "location", "required"));
  EXPECT_TRUE(HasProblem(r, "announced", "type"));
  EXPECT_TRUE(HasProblem(r, "visit_type", "range"));
  EXPECT_TRUE(HasProblem(r, "visit_end", "rule"));
  EXPECT_TRUE(HasProblem(r, "mood", "type"));
}

TEST(SchemaHostileTest, NonObjectFields) {
  for (const json& bad :
       {json(), json::array(), json::array({1, 2}), json(7), json("x"),
        json(true), json(1.5), json::binary({1, 2, 3})}) {
    for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
      const auto r = Check(type, bad);
      EXPECT_ONLY_PROBLEM(r, "", "type");
      EXPECT_TRUE(r.flags.empty());
    }
  }
}

TEST(SchemaHostileTest, EmptyObjectListsEveryRequiredField) {
  const auto r = Check("visit_note", json::object());
  for (const char* f : {"visit_type", "visit_start", "visit_end", "announced",
                        "location", "persons_present", "child_seen", "purpose",
                        "observations", "wishes_and_feelings", "analysis"}) {
    EXPECT_TRUE(HasProblem(r, f, "required")) << f << Describe(r);
  }
  EXPECT_EQ(r.problems.size(), 11u) << Describe(r);
}

TEST(SchemaHostileTest, DeepNestingDoesNotCrash) {
  json deep = json::array();
  for (int i = 0; i < 5000; ++i) {
    json next = json::array();
    next.push_back(std::move(deep));
    deep = std::move(next);
  }
  json obj = json::object();
  for (int i = 0; i < 5000; ++i) {
    json next = json::object();
    next["k"] = std::move(obj);
    obj = std::move(next);
  }
  for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
    const RecordSchema& s = *SchemaRegistry::Default().Find(type);
    json v = Sample(type);
    for (const FieldSpec& f : s.fields())
      v[f.name] = (f.type == FieldType::kObject) ? obj : deep;
    v["extra"] = deep;
    const auto r = Check(type, v);
    EXPECT_FALSE(r.ok());
  }
  // Deep JSON text parsed with the non-throwing parser, then validated.
  std::string text(20000, '[');
  text += std::string(20000, ']');
  const json parsed = json::parse(text, nullptr, false);
  EXPECT_FALSE(Check("pep_update", parsed).ok());
}

TEST(SchemaHostileTest, HugeListsAndManyUnknownKeysAreCapped) {
  json v = Sample("return_home_interview");
  v["shared_with"] = json::array();
  for (int i = 0; i < 5000; ++i) v["shared_with"].push_back(i);
  auto r = Check("return_home_interview", v);
  EXPECT_ONLY_PROBLEM(r, "shared_with", "range");

  json u = Sample("visit_note");
  for (int i = 0; i < 1000; ++i) u["junk" + std::to_string(i)] = i;
  r = Check("visit_note", u);
  EXPECT_EQ(r.problems.size(), kMaxProblems);
  EXPECT_EQ(r.problems.back().path, "");
  EXPECT_EQ(r.problems.back().code, "range");
}

TEST(SchemaHostileTest, OversizedAndInvalidText) {
  json v = Sample("visit_note");
  v["observations"] = std::string(200'000, 'a');
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "observations", "range");
  v = Sample("visit_note");
  v["location"] = std::string(5'000, 'b');
  EXPECT_ONLY_PROBLEM(Check("visit_note", v), "location", "range");
  v = Sample("visit_note");
  v["purpose"] = std::string("bad \xC3\x28 utf8\n");  // as CBOR can deliver
  const auto r = Check("visit_note", v);
  EXPECT_ONLY_PROBLEM(r, "purpose", "type");
  EXPECT_NO_THROW(ProblemsToJson(r.problems).dump());
}

// Text is checked eight ASCII bytes at a time: a bad sequence is found at
// every offset (inside a word, across two, in the tail), and good
// multi-byte text at every offset passes.
TEST(SchemaHostileTest, InvalidUtf8IsFoundAtEveryOffset) {
  const std::string bad[] = {"\x80", "\xC0\xAF", "\xC3\x28", "\xED\xA0\x80", "\xF5\x80\x80\x80",
                             "\xF0\x82\x82\xAC", "\xFF"};
  const std::string good[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xED\x9F\xBF"};
  for (size_t at = 0; at <= 24; ++at) {
    for (size_t tail : {size_t{0}, size_t{1}, size_t{7}, size_t{9}}) {
      for (const std::string& b : bad) {
        json v = Sample("visit_note");
        v["purpose"] = std::string(at, 'p') + b + std::string(tail, 'q');
        EXPECT_ONLY_PROBLEM(Check("visit_note", v), "purpose", "type");
      }
      // A sequence cut short by the end of the text.
      json v = Sample("visit_note");
      v["purpose"] = std::string(at, 'p') + "\xE2\x82";
      EXPECT_ONLY_PROBLEM(Check("visit_note", v), "purpose", "type");
      for (const std::string& g : good) {
        json ok = Sample("visit_note");
        ok["purpose"] = std::string(at, 'p') + g + std::string(tail, 'q');
        const auto r = Check("visit_note", ok);
        EXPECT_TRUE(r.problems.empty()) << at << " " << tail << ": " << Describe(r);
      }
    }
  }
}

TEST(SchemaHostileTest, HostileKeysAreSanitisedInPaths) {
  json v = Sample("visit_note");
  v[std::string("\xFF\xFE\x01 key")] = 1;
  v[std::string(10'000, 'k')] = 1;
  v[""] = 1;
  const auto r = Check("visit_note", v);
  EXPECT_EQ(r.problems.size(), 3u) << Describe(r);
  for (const Problem& p : r.problems) EXPECT_LE(p.path.size(), 80u);
  EXPECT_NO_THROW(ProblemsToJson(r.problems).dump());
}

TEST(SchemaHostileTest, NumbersAtTheEdges) {
  json v = Sample("pep_update");
  for (const json& n :
       {json(std::numeric_limits<uint64_t>::max()),
        json(std::numeric_limits<int64_t>::min()), json(1e308), json(-1e308),
        json(std::numeric_limits<double>::quiet_NaN()),
        json(std::numeric_limits<double>::infinity())}) {
    v["year_group"] = n;
    v["attendance_pct"] = n;
    v["suspensions_days"] = n;
    const auto r = Check("pep_update", v);
    EXPECT_TRUE(HasProblemAt(r, "year_group")) << n.dump();
    EXPECT_TRUE(HasProblemAt(r, "attendance_pct")) << n.dump();
    EXPECT_FALSE(r.HasFlag(kFlagPersistentAbsence));
  }
}

TEST(SchemaHostileTest, CborWithWrongTypesDoesNotCrash) {
  // Random-ish CBOR fragments decoded without exceptions, then validated.
  const std::vector<std::vector<uint8_t>> blobs = {
      {0xA1, 0x61, 0x61, 0x80},  // {"a": []}
      {0xA1, 0x6A, 'v', 'i', 's', 'i', 't', '_', 's', 't', 'a', 'r', 't', 0xF6},
      {0xA2, 0x63, 'a', 'b', 'c', 0xC3, 0x40, 0x61, 'x', 0xF5},
      {0x9F, 0x9F, 0xFF, 0xFF},
      {0xFF, 0x00}};
  for (const auto& b : blobs) {
    const json j = json::from_cbor(b, true, false);
    for (const std::string& type : SchemaRegistry::Default().TypeNames()) {
      EXPECT_NO_FATAL_FAILURE((void)Check(type, j));
    }
  }
}

}  // namespace
}  // namespace doorstep::core
