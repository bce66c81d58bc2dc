#include "doorstep/core/secret.h"

#include <gtest/gtest.h>

namespace doorstep {
namespace {

TEST(SecretBytesTest, AllocCopyCompareReset) {
  ASSERT_TRUE(Initialize().ok());
  SecretBytes a(32);
  ASSERT_EQ(a.size(), 32u);
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(a.data()[i], 0);
  a.data()[0] = 1;
  SecretBytes b = a.Clone();
  EXPECT_TRUE(a.Equals(b));
  b.data()[31] ^= 1;
  EXPECT_FALSE(a.Equals(b));
  SecretBytes c = std::move(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(c.size(), 32u);
  c.Reset();
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(c.Equals(b));
}

}  // namespace
}  // namespace doorstep
