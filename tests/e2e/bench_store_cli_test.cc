// `doorstep bench store --json` runs end to end (small sizes) and prints every
// figure the issue asks for, each a positive number; the bulk ratio is the
// median of the rounds' own ratios, each listed.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "e2e/e2e_util.h"

namespace doorstep::e2e {
namespace {

TEST(BenchStoreCliTest, JsonHasEveryFigure) {
  TempDir dir;
  RunResult r = RunDoorstep(
      {"bench", "store", "--records", "300", "--commits", "5", "--rounds", "3", "--dir", dir.path(), "--json"},
      {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  for (const char* k :
       {"bulk_ratio", "commit_ratio", "seal_open_1k_us", "bulk_records_per_s", "commit_p50_us",
        "commit_p99_us", "open_unlock_ms", "kdf_ms", "plain_bulk_records_per_s",
        "plain_commit_p50_us", "plain_commit_p99_us", "record_bytes", "bulk_cpu_ratio",
        "bulk_ratio_plain_same_cache", "plain_same_cache_bulk_records_per_s", "bulk_ratio_plain_random_ids",
        "plain_random_ids_bulk_records_per_s", "bulk_writing_thread_cpu_ratio"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k << " in " << r.out;
    EXPECT_GT(j[k].get<double>(), 0) << k;
  }
  EXPECT_EQ(j.value("records", 0), 300);
  EXPECT_EQ(j.value("rounds", 0), 3);
  ASSERT_TRUE(j["bulk_ratio_rounds"].is_array() && j["bulk_ratio_rounds"].size() == 3) << r.out;
  ASSERT_TRUE(j["bulk_rounds"].is_array() && j["bulk_rounds"].size() == 3) << r.out;
  std::vector<double> ratios;
  for (size_t i = 0; i < 3; ++i) {
    const nlohmann::json& round = j["bulk_rounds"][i];
    for (const char* k : {"store_ms", "plain_ms", "plain_same_cache_ms", "plain_random_ids_ms", "store_cpu_ms",
                          "store_writing_thread_cpu_ms", "plain_cpu_ms"}) {
      ASSERT_TRUE(round.contains(k) && round[k].is_number()) << k << " in round " << i;
      EXPECT_GT(round[k].get<double>(), 0) << k << " in round " << i;
    }
    const double ratio = j["bulk_ratio_rounds"][i].get<double>();
    EXPECT_DOUBLE_EQ(ratio, round["store_ms"].get<double>() / round["plain_ms"].get<double>()) << i;
    ratios.push_back(ratio);
  }
  std::sort(ratios.begin(), ratios.end());
  EXPECT_DOUBLE_EQ(j.value("bulk_ratio", 0.0), ratios[1]) << "the median of the rounds";
  EXPECT_NEAR(j.value("record_bytes", 0.0), 1024, 100) << "records of about 1 KB";
  // The temporary directory is removed afterwards.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  RunResult bad = RunDoorstep({"bench", "store", "--records", "0"}, {});
  EXPECT_EQ(bad.exit_code, 2);
  RunResult no_rounds = RunDoorstep({"bench", "store", "--rounds", "0"}, {});
  EXPECT_EQ(no_rounds.exit_code, 2);
  EXPECT_NE(no_rounds.err.find("--rounds"), std::string::npos) << no_rounds.err;
}

}  // namespace
}  // namespace doorstep::e2e
