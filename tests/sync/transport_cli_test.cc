// The transport's commands end to end: `doorstep selftest noise` (the
// published vectors pass; a copy with one ciphertext byte changed fails) and
// `doorstep bench transport --json`.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sync/test_util.h"

namespace doorstep::sync {
namespace {

struct CommandRun {
  int exit_code = -1;
  std::string out;
};

CommandRun RunCommand(const std::string& cmd) {
  CommandRun r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string LastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::string Bin() { return testing::EnvOr("DOORSTEP_BIN", ""); }

TEST(SelftestNoiseCli, PublishedVectorsPass) {
  if (Bin().empty()) GTEST_SKIP() << "DOORSTEP_BIN not set";
  CommandRun r = RunCommand("'" + Bin() + "' selftest noise '" + testing::VectorPath() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(LastLine(r.out), "4 passed, 0 failed") << r.out;
}

TEST(SelftestNoiseCli, OneChangedCiphertextByteFails) {
  if (Bin().empty()) GTEST_SKIP() << "DOORSTEP_BIN not set";
  std::string text = testing::ReadFileOrEmpty(testing::VectorPath());
  // Change one hex digit in the last ciphertext of the file.
  size_t pos = text.rfind("\"ciphertext\"");
  ASSERT_NE(pos, std::string::npos);
  pos = text.find('"', pos + 12) + 3;  // a hex digit inside the value
  text[pos] = text[pos] == 'a' ? 'b' : 'a';
  std::string copy = ::testing::TempDir() + "doorstep_vectors_tampered.json";
  {
    std::ofstream f(copy, std::ios::binary);
    f << text;
  }
  CommandRun r = RunCommand("'" + Bin() + "' selftest noise '" + copy + "'");
  std::remove(copy.c_str());
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_EQ(LastLine(r.out), "3 passed, 1 failed") << r.out;
}

TEST(SelftestNoiseCli, MissingFileIsNotFound) {
  if (Bin().empty()) GTEST_SKIP() << "DOORSTEP_BIN not set";
  CommandRun r = RunCommand("'" + Bin() + "' selftest noise /nonexistent/vectors.json");
  EXPECT_EQ(r.exit_code, 5) << r.out;
  EXPECT_EQ(r.out.rfind("doorstep: ", 0), 0u) << r.out;
}

TEST(BenchTransportCli, JsonHasTheFigures) {
  if (Bin().empty()) GTEST_SKIP() << "DOORSTEP_BIN not set";
  CommandRun r = RunCommand("'" + Bin() +
                            "' bench transport --json --handshakes 3 --bytes 2097152");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  for (const char* key : {"handshake_us", "throughput_mb_s", "bytes", "plain_tcp_mb_s", "ratio"}) {
    ASSERT_TRUE(j.contains(key) && j[key].is_number()) << key << " in " << r.out;
  }
  EXPECT_GT(j["handshake_us"].get<double>(), 0);
  EXPECT_GT(j["throughput_mb_s"].get<double>(), 0);
  EXPECT_EQ(j["bytes"].get<int64_t>(), 2097152);
}

}  // namespace
}  // namespace doorstep::sync
