// `doorstep bench server --postgres CONNINFO --json`: the same bench with
// the server store in PostgreSQL (a fresh schema of the test cluster) prints
// the same figures. The 200-device figures are in docs/server-store.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/e2e_util.h"
#include "pg_e2e_util.h"

namespace doorstep::e2e {
namespace {

class BenchServerPgTest : public PgSchemaTest {};

TEST_F(BenchServerPgTest, JsonHasEveryFigure) {
  RunResult r = RunDoorstep({"bench", "server", "--devices", "4", "--records", "5", "--pulls", "3", "--postgres",
                             conninfo_, "--json"},
                            {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("backend", ""), "postgres");
  for (const char* k : {"push_total_s", "push_p50_ms", "push_p95_ms", "pull_total_s", "pull_p95_ms",
                        "server_rss_mb", "server_rss_start_mb"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k << " in " << r.out;
    EXPECT_GT(j[k].get<double>(), 0) << k;
  }
  // The records went to the database: 4 devices x 5, and 4 x 3 from the writer.
  EXPECT_EQ(doorstep::sync::testing::PgColumn(conninfo_, "SELECT count(*)::text FROM records"),
            std::vector<std::string>{"32"});
}

}  // namespace
}  // namespace doorstep::e2e
