// SharedClock (cli-harness/shared_clock.h): the sim's time as the server
// processes of `doorstep sim --postgres` read it.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "shared_clock.h"

namespace doorstep::cli {
namespace {

class SimSharedClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ds-clock-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unlink((dir_ + "/clock").c_str());
    ::unlink((dir_ + "/short").c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(SimSharedClockTest, ReaderSeesTheWritersTime) {
  auto writer = SharedClock::Create(dir_ + "/clock", 1'760'000'000'000);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto reader = SharedClock::Open(dir_ + "/clock");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->NowMillis(), 1'760'000'000'000);
  (*writer)->Set(1'760'000'123'456);
  EXPECT_EQ((*reader)->NowMillis(), 1'760'000'123'456);
  (*reader)->Set(5);  // read-only: no effect
  EXPECT_EQ((*writer)->NowMillis(), 1'760'000'123'456);
  EXPECT_GT((*reader)->MonotonicMicros(), 0);
}

TEST_F(SimSharedClockTest, MissingOrWrongSizedFileIsRefused) {
  auto missing = SharedClock::Open(dir_ + "/clock");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  { std::ofstream(dir_ + "/short") << "abc"; }
  auto bad = SharedClock::Open(dir_ + "/short");
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace doorstep::cli
