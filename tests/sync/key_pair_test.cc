// Key pairs and the server's key pair file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/sync/key_pair.h"

namespace doorstep::sync {
namespace {

class KeyPairFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    char tmpl[] = "/tmp/doorstep_keyfile_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/server.key";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, path_;
  SeededRandom random_{7};
};

TEST_F(KeyPairFileTest, GeneratedPairMatchesItsPrivateKey) {
  KeyPair kp = GenerateKeyPair(random_);
  ASSERT_EQ(kp.public_key.size(), 32u);
  Result<KeyPair> again = KeyPairFromPrivateKey(
      std::string_view(reinterpret_cast<const char*>(kp.private_key.data()), 32));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key, kp.public_key);
  EXPECT_EQ(KeyPairFromPrivateKey("short").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyPairFileTest, WriteThenReadRoundTripsWithMode0600) {
  KeyPair kp = GenerateKeyPair(random_);
  ASSERT_TRUE(WriteKeyPairFile(path_, kp).ok());
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 72);
  Result<KeyPair> back = ReadKeyPairFile(path_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->private_key.Equals(kp.private_key));
  EXPECT_EQ(back->public_key, kp.public_key);
}

TEST_F(KeyPairFileTest, RefusesToOverwrite) {
  ASSERT_TRUE(WriteKeyPairFile(path_, GenerateKeyPair(random_)).ok());
  EXPECT_EQ(WriteKeyPairFile(path_, GenerateKeyPair(random_)).code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(KeyPairFileTest, RefusesGroupOrWorldReadableFile) {
  ASSERT_TRUE(WriteKeyPairFile(path_, GenerateKeyPair(random_)).ok());
  ASSERT_EQ(chmod(path_.c_str(), 0640), 0);
  EXPECT_EQ(ReadKeyPairFile(path_).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_EQ(chmod(path_.c_str(), 0604), 0);
  EXPECT_EQ(ReadKeyPairFile(path_).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_EQ(chmod(path_.c_str(), 0600), 0);
  EXPECT_TRUE(ReadKeyPairFile(path_).ok());
}

TEST_F(KeyPairFileTest, MissingWrongSizeAndMismatchedFilesFail) {
  EXPECT_EQ(ReadKeyPairFile(path_).status().code(), StatusCode::kNotFound);
  KeyPair kp = GenerateKeyPair(random_);
  ASSERT_TRUE(WriteKeyPairFile(path_, kp).ok());
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(72 - 1);
    f.put('\x55');  // corrupts the stored public key
  }
  EXPECT_EQ(ReadKeyPairFile(path_).status().code(), StatusCode::kCorruption);
  {
    std::ofstream f(path_, std::ios::app | std::ios::binary);
    f << 'x';
  }
  EXPECT_EQ(ReadKeyPairFile(path_).status().code(), StatusCode::kCorruption);
  std::remove(path_.c_str());
  {
    std::ofstream f(path_, std::ios::binary);
    f << std::string(72, 'A');
  }
  chmod(path_.c_str(), 0600);
  EXPECT_EQ(ReadKeyPairFile(path_).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace doorstep::sync
