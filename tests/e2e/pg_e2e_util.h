// A fresh PostgreSQL schema for an end-to-end test that runs the binary
// against the test cluster (tests/sync/pg_test_util.h): skipped only when
// DOORSTEP_PG is off, a failure when it is on and no cluster is set.
#ifndef DOORSTEP_TESTS_E2E_PG_E2E_UTIL_H_
#define DOORSTEP_TESTS_E2E_PG_E2E_UTIL_H_

#include <gtest/gtest.h>

#include <string>

#include "sync/pg_test_util.h"

namespace doorstep::e2e {

class PgSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace pgt = doorstep::sync::testing;
    base_ = pgt::PgConninfo();
    if (base_.empty()) {
      if (pgt::PgRequired()) FAIL() << "DOORSTEP_PG=on but DOORSTEP_PG_CONNINFO is not set";
      GTEST_SKIP() << "PostgreSQL tests off (DOORSTEP_PG_TESTS=OFF / no DOORSTEP_PG_CONNINFO)";
    }
    schema_ = pgt::UniqueSchema();
    ASSERT_EQ(pgt::PgExec(base_, "CREATE SCHEMA " + schema_), "") << "cannot reach the PostgreSQL test cluster";
    conninfo_ = pgt::WithSchema(base_, schema_);
  }
  void TearDown() override {
    if (!schema_.empty()) (void)doorstep::sync::testing::PgExec(base_, "DROP SCHEMA " + schema_ + " CASCADE");
  }

  std::string base_, schema_, conninfo_;  // conninfo_ has the schema as its search path
};

}  // namespace doorstep::e2e

#endif  // DOORSTEP_TESTS_E2E_PG_E2E_UTIL_H_
