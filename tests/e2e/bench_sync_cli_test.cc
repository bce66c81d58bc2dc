// `doorstep bench sync --json` runs end to end at a small size (a server
// process and two devices on 127.0.0.1) and prints every figure the issue
// asks for with sane values; the goals themselves are for the full run
// (scripts/bench-sync), not checked here.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/e2e_util.h"

namespace doorstep::e2e {
namespace {

TEST(BenchSyncCliTest, JsonHasEveryFigure) {
  TempDir dir;
  RunResult r = RunDoorstep({"bench", "sync", "--records", "200", "--dir", dir.path(), "--json"}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  for (const char* k :
       {"records", "first_sync_records_per_s", "incremental_100_push_ms", "incremental_100_pull_ms",
        "noop_sync_ms", "noop_sync_bytes", "wire_bytes_per_record", "first_push_records_per_s",
        "noop_sync_handshake_bytes", "fields_json_bytes_per_record"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k << " in " << r.out;
    EXPECT_GT(j[k].get<double>(), 0) << k;
  }
  EXPECT_EQ(j.value("records", 0), 200);
  EXPECT_EQ(j.value("noop_sync_round_trips", 0), 1) << "a no-op sync is one round trip";
  // A no-op sync moves a few hundred bytes, not kilobytes; a ~1 KB record
  // costs about its own size on the wire (CBOR, one Noise MAC per 64 KB).
  EXPECT_LT(j.value("noop_sync_bytes", 0), 1024);
  EXPECT_NEAR(j.value("fields_json_bytes_per_record", 0.0), 1024, 100);
  EXPECT_GT(j.value("wire_bytes_per_record", 0.0), 900);
  EXPECT_LT(j.value("wire_bytes_per_record", 0.0), 2000);
  ASSERT_TRUE(j.contains("goals_met") && j["goals_met"].is_object());
  // The wire figure names both plaintexts it is compared with.
  EXPECT_GT(j.value("record_json_bytes_per_record", 0.0), j.value("fields_json_bytes_per_record", 0.0));
  ASSERT_TRUE(j.contains("plaintext_compared") && j["plaintext_compared"].is_object());
  EXPECT_TRUE(j["plaintext_compared"].contains("fields_json"));
  EXPECT_TRUE(j["plaintext_compared"].contains("record_json"));
  // The server process is stopped and the temporary directory removed.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  RunResult bad = RunDoorstep({"bench", "sync", "--records", "0"}, {});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace doorstep::e2e
