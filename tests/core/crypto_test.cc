#include "doorstep/core/crypto.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

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

TEST_F(CryptoTest, TwoThreadsSealingAtOnceNeverShareANonceAndEveryValueOpens) {
  // AddMany seals on two threads at once: each with its own nonces (half of
  // them reserved by one thread and sealed by the other), all distinct,
  // every value opening under its own associated data.
  auto sealer = Sealer::Create(RandomKey(rnd_), rnd_);
  ASSERT_TRUE(sealer.ok());
  constexpr int kEach = 20'000;
  std::vector<std::string> sealed[2];
  std::vector<SealTicket> handed(kEach);
  for (SealTicket& t : handed) {
    auto r = sealer->Reserve();
    ASSERT_TRUE(r.ok());
    t = std::move(*r);
  }
  auto work = [&](int side) {
    for (int i = 0; i < kEach; ++i) {
      std::string out;
      std::string ad = "ad|" + std::to_string(side) + "|" + std::to_string(i);
      Status s = side == 0 ? sealer->SealTo(std::move(handed[i]), "value " + std::to_string(i), ad, &out)
                           : sealer->SealTo("value " + std::to_string(i), ad, &out);
      if (!s.ok()) return;
      sealed[side].push_back(std::move(out));
    }
  };
  std::thread other(work, 0);
  work(1);
  other.join();
  std::unordered_set<std::string> nonces;
  for (int side = 0; side < 2; ++side) {
    ASSERT_EQ(sealed[side].size(), static_cast<size_t>(kEach)) << side;
    for (int i = 0; i < kEach; ++i) {
      const std::string& v = sealed[side][i];
      EXPECT_TRUE(nonces.insert(v.substr(0, kSealNonceBytes)).second) << side << " " << i;
      auto opened = sealer->Open(v, "ad|" + std::to_string(side) + "|" + std::to_string(i));
      ASSERT_TRUE(opened.ok()) << side << " " << i;
      EXPECT_EQ(*opened, "value " + std::to_string(i));
    }
  }
  EXPECT_EQ(nonces.size(), 2u * kEach);
}

TEST_F(CryptoTest, ASealTicketSealsOnceAndOnlyWithItsOwnSealer) {
  auto a = Sealer::Create(RandomKey(rnd_), rnd_);
  auto b = Sealer::Create(RandomKey(rnd_), rnd_);
  ASSERT_TRUE(a.ok() && b.ok());
  std::string out = "left over";
  // Empty, and another Sealer's: refused, nothing sealed.
  EXPECT_EQ(a->SealTo(SealTicket(), "x", "", &out).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(out.empty());
  auto tb = b->Reserve();
  ASSERT_TRUE(tb.ok());
  EXPECT_EQ(a->SealTo(std::move(*tb), "x", "", &out).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(tb->valid());  // used up by the refusal too
  // Its own: seals with the nonce it reserved (the counter, little-endian,
  // is the nonce's last 8 bytes), once; a plain seal takes the next.
  auto counter = [](const std::string& v) { return static_cast<int>(static_cast<unsigned char>(v[16])); };
  auto t0 = a->Reserve();
  auto t1 = a->Reserve();
  ASSERT_TRUE(t0.ok() && t1.ok());
  SealTicket held = std::move(*t0);
  EXPECT_FALSE(t0->valid());
  ASSERT_TRUE(a->SealTo(std::move(*t1), "one", "", &out).ok());
  EXPECT_EQ(counter(out), 1);
  EXPECT_EQ(*a->Open(out, ""), "one");
  ASSERT_TRUE(a->SealTo(std::move(held), "zero", "", &out).ok());
  EXPECT_EQ(counter(out), 0);
  EXPECT_EQ(*a->Open(out, ""), "zero");
  EXPECT_FALSE(held.valid());
  EXPECT_EQ(a->SealTo(std::move(held), "again", "", &out).code(), StatusCode::kFailedPrecondition);
  auto two = a->Seal("two", "");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(counter(*two), 2);
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
