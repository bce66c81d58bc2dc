// `doorstep bench store --json` runs end to end (small sizes) and prints every
// figure the issue asks for, each a positive number.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/e2e_util.h"

namespace doorstep::e2e {
namespace {

TEST(BenchStoreCliTest, JsonHasEveryFigure) {
  TempDir dir;
  RunResult r = RunDoorstep(
      {"bench", "store", "--records", "300", "--commits", "5", "--dir", dir.path(), "--json"}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  for (const char* k :
       {"bulk_ratio", "commit_ratio", "seal_open_1k_us", "bulk_records_per_s", "commit_p50_us",
        "commit_p99_us", "open_unlock_ms", "kdf_ms", "plain_bulk_records_per_s",
        "plain_commit_p50_us", "plain_commit_p99_us", "record_bytes", "bulk_cpu_ratio",
        "bulk_ratio_plain_same_cache", "plain_same_cache_bulk_records_per_s"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k << " in " << r.out;
    EXPECT_GT(j[k].get<double>(), 0) << k;
  }
  EXPECT_EQ(j.value("records", 0), 300);
  EXPECT_NEAR(j.value("record_bytes", 0.0), 1024, 100) << "records of about 1 KB";
  // The temporary directory is removed afterwards.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  RunResult bad = RunDoorstep({"bench", "store", "--records", "0"}, {});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace doorstep::e2e
