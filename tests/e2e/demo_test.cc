// The README's main command: `doorstep demo` must run to convergence.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

TEST(DemoTest, RunsToConvergence) {
  const char* bin = std::getenv("DOORSTEP_BIN");
  ASSERT_NE(bin, nullptr) << "DOORSTEP_BIN is not set";
  std::string cmd = std::string(bin) + " demo 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("All devices converged"), std::string::npos) << out;
  EXPECT_NE(out.find("conflict"), std::string::npos);
  EXPECT_NE(out.find("audit chain of"), std::string::npos);
}

}  // namespace
