// A GoogleTest fixture for driving `doorstep device …` end to end: a temp
// directory, a store path in it, a default passphrase in the environment,
// and helpers that run a device command and parse its JSON output.
#ifndef DOORSTEP_TESTS_E2E_DEVICE_FIXTURE_H_
#define DOORSTEP_TESTS_E2E_DEVICE_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "e2e/e2e_util.h"

namespace doorstep::e2e {

inline constexpr char kPass[] = "correct horse battery staple";

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class DeviceCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    store_ = dir_.File("device.db");
    env_ = {{"DOORSTEP_PASSPHRASE", std::string(kPass)}, {"DOORSTEP_NEW_PASSPHRASE", std::nullopt}};
  }

  // Runs `doorstep device <cmd> --store <store_> <args…>`.
  RunResult Device(const std::string& cmd, std::vector<std::string> args = {},
                   const std::string& input = "", const EnvChanges& extra = {}) {
    std::vector<std::string> all = {"device", cmd, "--store", store_};
    all.insert(all.end(), args.begin(), args.end());
    EnvChanges env = env_;
    for (const auto& [k, v] : extra) env[k] = v;
    return RunDoorstep(all, env, input);
  }

  // Creates the store with the fast KDF profile.
  void Init(std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args = {"--kdf", "interactive"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    RunResult r = Device("init", args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Adds a record; returns its id ("" on failure, with a test failure).
  std::string Add(const std::string& type, const std::string& subject,
                  const nlohmann::json& fields, const std::string& status = "draft") {
    RunResult r = Device("add", {"--type", type, "--subject", subject, "--status", status},
                         fields.dump());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id = r.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    EXPECT_EQ(id.size(), 32u) << r.out;
    return id;
  }

  // Parses stdout as JSON (discarded on error, with a test failure).
  static nlohmann::json Json(const RunResult& r) {
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
    return j;
  }

  TempDir dir_;
  std::string store_;
  EnvChanges env_;
};

}  // namespace doorstep::e2e

#endif  // DOORSTEP_TESTS_E2E_DEVICE_FIXTURE_H_
