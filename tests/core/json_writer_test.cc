// The store's fast JSON writer writes exactly what nlohmann::json::dump()
// writes, and fails where it fails.
#include "json_writer_internal.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doorstep/core/json_text.h"
#include "doorstep/core/samples.h"

namespace doorstep::core {
namespace {

std::string Fast(const nlohmann::json& j) {
  std::string out = "prefix:";
  AppendJson(&out, j);
  return out.substr(7);
}

TEST(JsonWriterTest, SameBytesAsDumpForEverySampleType) {
  for (const char* type : {"visit_note", "return_home_interview", "pep_update", "pathway_plan"}) {
    nlohmann::json j = SampleFields(type, 1'764'000'000'000);
    EXPECT_EQ(Fast(j), j.dump()) << type;
  }
}

TEST(JsonWriterTest, PublicAppendJsonTextAppendsDump) {
  nlohmann::json j = SampleFields("visit_note", 1'764'000'000'000);
  std::string out = "x";
  AppendJsonText(&out, j);
  EXPECT_EQ(out, "x" + j.dump());
}

TEST(JsonWriterTest, SameBytesAsDumpForEdgeCases) {
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  nlohmann::json j = {
      {"empty", ""},
      {"controls", controls},
      {"quotes", "say \"hi\" \\ back\\"},
      {"del", std::string("a\x7f" "b")},
      {"utf8", "caf\xc3\xa9 \xe2\x80\x99 \xf0\x9f\x98\x80 \xe2\x82\xac"},
      {"ints", {0, -1, 42, INT64_MIN, INT64_MAX}},
      {"unsigned", UINT64_MAX},
      {"floats", {0.5, -1e300, 3.141592653589793, 1.0, 0.1}},
      {"bools", {true, false}},
      {"null", nullptr},
      {"nested", {{"a", {{"b", nlohmann::json::array()}}}, {"o", nlohmann::json::object()}}},
      {"k\"ey\n", "v"},
  };
  EXPECT_EQ(Fast(j), j.dump());
  EXPECT_EQ(Fast(nlohmann::json("line\nbreak")), nlohmann::json("line\nbreak").dump());
  EXPECT_EQ(Fast(nlohmann::json::array()), "[]");
}

TEST(JsonWriterTest, InvalidUtf8ThrowsAsDumpDoes) {
  for (std::string bad : {std::string("\xc3"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("\xf4\x90\x80\x80"), std::string("ok \xff")}) {
    nlohmann::json j = {{"t", bad}};
    EXPECT_THROW(j.dump(), nlohmann::json::type_error);
    std::string out;
    EXPECT_THROW(AppendJson(&out, j), nlohmann::json::type_error);
  }
}

// Strings are scanned eight bytes at a time: every byte that needs a look
// (each control character, '"', '\\', DEL's neighbours, the first byte of a
// UTF-8 sequence) at every offset of runs longer than a word, alone and
// next to another, gives dump()'s bytes.
TEST(JsonWriterTest, SameBytesAsDumpAtEveryOffsetOfLongStrings) {
  std::vector<std::string> specials;
  for (int c = 0; c < 0x20; ++c) specials.emplace_back(1, static_cast<char>(c));
  for (const char* t : {"\"", "\\", "\x7f", " ", "~", "!", "#", "[", "]", "\xc3\xa9", "\xe2\x80\x99",
                        "\xf0\x9f\x98\x80"}) {
    specials.emplace_back(t);
  }
  for (size_t len : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 40u}) {
    for (size_t at = 0; at <= len; ++at) {
      for (const std::string& sp : specials) {
        std::string s(len, 'a');
        s.insert(at, sp);
        std::string twice = s;
        twice.insert(at, sp);
        for (const std::string& text : {s, twice}) {
          nlohmann::json j(text);
          ASSERT_EQ(Fast(j), j.dump()) << "len " << len << " at " << at;
        }
      }
    }
  }
}

TEST(JsonWriterTest, InvalidUtf8AfterLongValidRunsThrowsAndWritesNothing) {
  for (size_t at : {0u, 5u, 8u, 23u, 64u}) {
    std::string bad = std::string(at, 'x') + "caf\xc3\xa9 and \xff" + std::string(20, 'y');
    nlohmann::json j = {{"t", bad}};
    EXPECT_THROW(j.dump(), nlohmann::json::type_error);
    std::string out = "kept";
    EXPECT_THROW(AppendJson(&out, nlohmann::json(bad)), nlohmann::json::type_error) << at;
    EXPECT_EQ(out, "kept") << at;
  }
}

}  // namespace
}  // namespace doorstep::core
