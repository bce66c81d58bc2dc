// What a core store test stands on: a temporary directory (removed after
// the test) holding `path_`, a fake clock, a seeded random source, a
// keystore key of 32 bytes of `key_byte`, and the Env over them. A test
// class passes its own seed (and, if it needs them, the clock's start and
// the key's byte) to the constructor; one that overrides SetUp calls
// StoreTestBase::SetUp() first. Test-only.
#ifndef DOORSTEP_TESTS_CORE_STORE_TEST_BASE_H_
#define DOORSTEP_TESTS_CORE_STORE_TEST_BASE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "doorstep/core/crypto.h"
#include "doorstep/core/env.h"
#include "doorstep/core/store.h"

namespace doorstep::core::testing {

class StoreTestBase : public ::testing::Test {
 protected:
  explicit StoreTestBase(uint64_t seed, int64_t start_ms = 1'764'000'000'000, char key_byte = '\x42')
      : clock_(start_ms), random_(seed), key_byte_(key_byte) {}

  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    key_.emplace(SecretBytes::Copy(std::string(32, key_byte_).data(), 32));
    char tmpl[] = "/tmp/doorstep-store-test-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    ASSERT_NE(dir, nullptr) << "mkdtemp";
    dir_ = dir;
    path_ = dir_ + "/device.db";
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // The keystore key alone.
  KeySource Key() { return KeySource{nullptr, &*key_}; }

  // Opens the store at path_ and unlocks it with Key(); null (and a test
  // failure) if it cannot.
  std::unique_ptr<Store> OpenUnlocked() {
    auto s = Store::Open(path_, env_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    Status u = (*s)->Unlock(Key());
    EXPECT_TRUE(u.ok()) << u.ToString();
    return std::move(*s);
  }

  std::string dir_, path_;
  std::optional<SecretBytes> key_;
  FakeClock clock_;
  SeededRandom random_;
  NullLogger logger_;
  Env env_{&clock_, &random_, &logger_};

 private:
  char key_byte_;
};

}  // namespace doorstep::core::testing

#endif  // DOORSTEP_TESTS_CORE_STORE_TEST_BASE_H_
