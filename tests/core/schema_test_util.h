// Shared fixture for the schema tests: a fixed device time, valid sample
// records (doorstep::core::SampleFields) and matchers on problems.
#ifndef DOORSTEP_TESTS_CORE_SCHEMA_TEST_UTIL_H_
#define DOORSTEP_TESTS_CORE_SCHEMA_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "doorstep/core/samples.h"
#include "doorstep/core/schema.h"

namespace doorstep::core::testing {

using nlohmann::json;

// 2025-11-03T14:05:00Z, the device clock in every schema test.
inline constexpr int64_t kNowMs = 1'762'178'700'000;

inline json Sample(std::string_view type) { return SampleFields(type, kNowMs); }

inline ValidationResult Check(std::string_view type, const json& fields,
                              std::string_view status = "final") {
  const RecordSchema* schema = SchemaRegistry::Default().Find(type);
  if (schema == nullptr) {
    ADD_FAILURE() << "no schema " << type;
    return {};
  }
  ValidationContext ctx;
  ctx.now_ms = kNowMs;
  return Validate(*schema, fields, status, ctx);
}

inline std::string Describe(const ValidationResult& r) {
  json j = {{"problems", ProblemsToJson(r.problems)}, {"flags", r.flags}};
  return j.dump(1);
}

inline bool HasProblem(const ValidationResult& r, std::string_view path,
                       std::string_view code) {
  for (const Problem& p : r.problems) {
    if (p.path == path && p.code == code) return true;
  }
  return false;
}

inline bool HasProblemAt(const ValidationResult& r, std::string_view path) {
  for (const Problem& p : r.problems) {
    if (p.path == path) return true;
  }
  return false;
}

// The record has exactly one problem, at `path` with `code`.
inline ::testing::AssertionResult OnlyProblem(const ValidationResult& r,
                                              std::string_view path,
                                              std::string_view code) {
  if (r.problems.size() == 1 && HasProblem(r, path, code)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected only " << path << " ("
                                       << code << "), got " << Describe(r);
}

inline ::testing::AssertionResult IsValid(const ValidationResult& r) {
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected no problems, got " << Describe(r);
}

#define EXPECT_ONLY_PROBLEM(result, path, code) \
  EXPECT_TRUE(::doorstep::core::testing::OnlyProblem((result), (path), (code)))
#define EXPECT_VALID(result) \
  EXPECT_TRUE(::doorstep::core::testing::IsValid((result)))

}  // namespace doorstep::core::testing

#endif  // DOORSTEP_TESTS_CORE_SCHEMA_TEST_UTIL_H_
