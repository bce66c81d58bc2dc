#include "doorstep/core/crypto.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unordered_set>

namespace doorstep::core {
namespace {

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Initialize().ok()); }
  SeededRandom rnd_{42};
};

TEST_F(CryptoTest, SealOpenRoundTrip) {
  auto sealer = Sealer::Create(RandomKey(rnd_), rnd_);
  ASSERT_TRUE(sealer.ok());
  auto sealed = sealer->Seal("observations", "rec|visit_note|3");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), 12 + kSealOverhead);
  auto opened = sealer->Open(*sealed, "rec|visit_note|3");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "observations");
}

TEST_F(CryptoTest, SealToReusesTheBufferAndOpensLikeSeal) {
  auto sealer = Sealer::Create(RandomKey(rnd_), rnd_);
  ASSERT_TRUE(sealer.ok());
  std::string out(5000, '\x7e');  // longer than the values: must be resized down, not kept
  std::set<std::string> nonces;
  for (const std::string& plain : {std::string(1024, 'a'), std::string("short"), std::string()}) {
    ASSERT_TRUE(sealer->SealTo(plain, "ds1|rec|x|visit_note|1", &out).ok());
    EXPECT_EQ(out.size(), plain.size() + kSealOverhead);
    auto opened = sealer->Open(out, "ds1|rec|x|visit_note|1");
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(*opened, plain);
    EXPECT_EQ(sealer->Open(out, "ds1|rec|x|visit_note|2").status().code(), StatusCode::kDataLoss);
    nonces.insert(out.substr(0, kSealNonceBytes));
    auto sealed = sealer->Seal(plain, "ad");  // Seal and SealTo share the counter
    ASSERT_TRUE(sealed.ok());
    nonces.insert(sealed->substr(0, kSealNonceBytes));
  }
  EXPECT_EQ(nonces.size(), 6u);
  Sealer moved = std::move(*sealer);
  EXPECT_EQ(sealer->SealTo("x", "ad", &out).code(), StatusCode::kFailedPrecondition);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(out.empty());
}

TEST_F(CryptoTest, WrongAssociatedDataIsDataLoss) {
  auto sealer = Sealer::Create(RandomKey(rnd_), rnd_);
  auto sealed = sealer->Seal("x", "rec1|visit_note|1");
  EXPECT_EQ(sealer->Open(*sealed, "rec2|visit_note|1").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(sealer->Open(*sealed, "rec1|visit_note|2").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(sealer->Open("short", "").status().code(), StatusCode::kDataLoss);
}

TEST_F(CryptoTest, EveryBitFlipOfSealed1KiBFailsToOpen) {
  auto sealer = Sealer::Create(RandomKey(rnd_), rnd_);
  std::string plain(1024, '\0');
  rnd_.Fill(plain.data(), plain.size());
  auto sealed = sealer->Seal(plain, "ad");
  ASSERT_TRUE(sealed.ok());
  std::string s = *sealed;
  // Every bit: nonce, ciphertext and tag.
  for (size_t bit = 0; bit < s.size() * 8; ++bit) {
    s[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    auto r = sealer->Open(s, "ad");
    ASSERT_FALSE(r.ok()) << "bit " << bit;
    ASSERT_EQ(r.status().code(), StatusCode::kDataLoss);
    s[bit / 8] ^= static_cast<char>(1 << (bit % 8));
  }
  EXPECT_TRUE(sealer->Open(s, "ad").ok());
}

TEST_F(CryptoTest, NoNonceRepeatsAcrossOneMillionSealsAndReopen) {
  std::unordered_set<std::string> nonces;
  nonces.reserve(1'100'000);
  SecretBytes key = RandomKey(rnd_);
  // Two Sealers over the same key model a store closed and reopened; the
  // real random source draws the prefixes, as in the store.
  Env env = RealEnv();
  for (int session = 0; session < 2; ++session) {
    auto sealer = Sealer::Create(key.Clone(), *env.random);
    ASSERT_TRUE(sealer.ok());
    for (int i = 0; i < 500'000; ++i) {
      auto s = sealer->Seal("", "");
      ASSERT_TRUE(nonces.insert(s->substr(0, kSealNonceBytes)).second) << "repeat at " << i;
    }
  }
  EXPECT_EQ(nonces.size(), 1'000'000u);
}

TEST_F(CryptoTest, KeyWrapWithPassphraseKeystoreAndBoth) {
  KdfParams params = NewKdfParams(KdfProfile::kInteractive, rnd_);
  params.opslimit = 1;  // keep the test fast; sane per CheckKdfParams
  params.memlimit = 8192;
  ASSERT_TRUE(CheckKdfParams(params).ok());
  auto pk = DeriveKeyFromPassphrase("correct horse", params);
  ASSERT_TRUE(pk.ok());
  SecretBytes ks = RandomKey(rnd_);
  auto both = CombineKek(&*pk, &ks);
  ASSERT_TRUE(both.ok());
  EXPECT_FALSE(both->Equals(*pk));
  EXPECT_FALSE(both->Equals(ks));

  SecretBytes dk = RandomKey(rnd_);
  auto wrapped = WrapKey(*both, dk, "store-id", rnd_);
  ASSERT_TRUE(wrapped.ok());
  auto back = UnwrapKey(*both, *wrapped, "store-id");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->Equals(dk));
  // Neither source alone opens it.
  EXPECT_EQ(UnwrapKey(*pk, *wrapped, "store-id").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(UnwrapKey(ks, *wrapped, "store-id").status().code(), StatusCode::kUnauthenticated);
  auto wrong = DeriveKeyFromPassphrase("wrong horse", params);
  auto wrong_both = CombineKek(&*wrong, &ks);
  EXPECT_EQ(UnwrapKey(*wrong_both, *wrapped, "store-id").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(UnwrapKey(*both, wrapped->substr(1), "store-id").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(CombineKek(nullptr, nullptr).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CryptoTest, KdfParamsOffDiskAreBounded) {
  KdfParams p = NewKdfParams(KdfProfile::kModerate, rnd_);
  EXPECT_TRUE(CheckKdfParams(p).ok());
  KdfParams huge = p;
  huge.memlimit = 1ULL << 40;
  EXPECT_EQ(CheckKdfParams(huge).code(), StatusCode::kCorruption);
  KdfParams bad_salt = p;
  bad_salt.salt = "x";
  EXPECT_EQ(CheckKdfParams(bad_salt).code(), StatusCode::kCorruption);
  KdfParams bad_alg = p;
  bad_alg.alg = 1;
  EXPECT_EQ(CheckKdfParams(bad_alg).code(), StatusCode::kCorruption);
}

TEST_F(CryptoTest, HexRoundTrip) {
  EXPECT_EQ(ToHex(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*FromHex("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_EQ(FromHex("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FromHex("zz").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Blake2b256("a").size(), 32u);
}

}  // namespace
}  // namespace doorstep::core
