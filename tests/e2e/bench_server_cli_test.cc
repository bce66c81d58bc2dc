// `doorstep bench server --json` runs end to end with a few devices and
// prints every figure the issue asks for.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/e2e_util.h"

namespace doorstep::e2e {
namespace {

TEST(BenchServerCliTest, JsonHasEveryFigure) {
  RunResult r = RunDoorstep(
      {"bench", "server", "--devices", "4", "--records", "5", "--pulls", "3", "--json"}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  for (const char* k : {"push_total_s", "push_p50_ms", "push_p95_ms", "pull_total_s", "pull_p95_ms",
                        "server_rss_mb", "server_rss_start_mb"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k << " in " << r.out;
    EXPECT_GT(j[k].get<double>(), 0) << k;
  }
  // Where the time went: server and client (device sessions) CPU per phase.
  for (const char* k : {"server_cpu_push_s", "server_cpu_pull_s", "client_cpu_push_s",
                        "client_cpu_pull_s", "server_write_push_mb"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k << " in " << r.out;
    EXPECT_GE(j[k].get<double>(), 0) << k;
  }
  EXPECT_GT(j["client_cpu_push_s"].get<double>(), 0);
  EXPECT_EQ(j.value("devices", 0), 4);
  EXPECT_GE(j["server_rss_mb"].get<double>(), j["server_rss_start_mb"].get<double>());

  EXPECT_EQ(RunDoorstep({"bench", "server", "--devices", "0"}, {}).exit_code, 2);
}

}  // namespace
}  // namespace doorstep::e2e
