// The Sealer computes XChaCha20-Poly1305 as HChaCha20 (libsodium) plus
// OpenSSL's IETF ChaCha20-Poly1305. These tests hold it to libsodium's
// crypto_aead_xchacha20poly1305_ietf byte for byte, both ways, so every
// store sealed before the change still opens.
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "doorstep/core/crypto.h"

namespace doorstep::core {
namespace {

const unsigned char* U(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string RandomBytes(Random& r, size_t n) {
  std::string s(n, '\0');
  r.Fill(s.data(), s.size());
  return s;
}

std::string SodiumSeal(const SecretBytes& key, const std::string& nonce, const std::string& plain,
                       const std::string& ad) {
  std::string out(kSealNonceBytes + plain.size() + kSealTagBytes, '\0');
  std::copy(nonce.begin(), nonce.end(), out.begin());
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()) + kSealNonceBytes, &clen, U(plain), plain.size(),
      U(ad), ad.size(), nullptr, U(nonce), key.data());
  return out;
}

bool SodiumOpen(const SecretBytes& key, const std::string& sealed, const std::string& ad,
                std::string* plain) {
  plain->assign(sealed.size() - kSealOverhead, '\0');
  unsigned long long mlen = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(
             reinterpret_cast<unsigned char*>(plain->data()), &mlen, nullptr,
             U(sealed) + kSealNonceBytes, sealed.size() - kSealNonceBytes, U(ad), ad.size(),
             U(sealed), key.data()) == 0;
}

class AeadEquivalenceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Initialize().ok()); }
  SeededRandom rnd_{20261126};
};

TEST_F(AeadEquivalenceTest, SameBytesAsLibsodiumBothWays) {
  const std::vector<size_t> lengths = {0,   1,   15,  16,   17,   63,   64,   65,    127,  128,
                                       129, 255, 256, 257,  511,  512,  513,  1023,  1024, 1025,
                                       4095, 4096, 4097, 16384, 65535, 65536, 65537, 200000};
  const std::vector<size_t> ad_lengths = {0, 1, 16, 17, 40, 64, 300};
  int cases = 0;
  for (int k = 0; k < 24; ++k) {
    SecretBytes key = RandomKey(rnd_);
    auto sealer = Sealer::Create(key.Clone(), rnd_);
    ASSERT_TRUE(sealer.ok());
    for (size_t i = 0; i < lengths.size(); ++i) {
      const size_t n = (k % 3 == 2) ? static_cast<size_t>(rnd_.NextU64() % 70000) : lengths[i];
      const std::string plain = RandomBytes(rnd_, n);
      const std::string ad = RandomBytes(rnd_, ad_lengths[(i + k) % ad_lengths.size()]);
      // Ours → libsodium: identical bytes for the same nonce, and it opens.
      auto ours = sealer->Seal(plain, ad);
      ASSERT_TRUE(ours.ok());
      const std::string nonce = ours->substr(0, kSealNonceBytes);
      ASSERT_EQ(*ours, SodiumSeal(key, nonce, plain, ad)) << "length " << n << " ad " << ad.size();
      std::string back;
      ASSERT_TRUE(SodiumOpen(key, *ours, ad, &back));
      ASSERT_EQ(back, plain);
      // libsodium with a fully random nonce (another prefix) → ours opens it.
      const std::string theirs = SodiumSeal(key, RandomBytes(rnd_, kSealNonceBytes), plain, ad);
      auto opened = sealer->Open(theirs, ad);
      ASSERT_TRUE(opened.ok()) << "length " << n;
      ASSERT_EQ(*opened, plain);
      // And our own value again after the other prefix (the open slot re-keys).
      auto again = sealer->Open(*ours, ad);
      ASSERT_TRUE(again.ok());
      ASSERT_EQ(*again, plain);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 24 * 28);
}

TEST_F(AeadEquivalenceTest, WrongKeyOrAdOrTamperIsDataLossForOtherPrefixes) {
  SecretBytes key = RandomKey(rnd_);
  auto sealer = Sealer::Create(key.Clone(), rnd_);
  ASSERT_TRUE(sealer.ok());
  const std::string plain = RandomBytes(rnd_, 1024);
  std::string theirs = SodiumSeal(key, RandomBytes(rnd_, kSealNonceBytes), plain, "ad");
  EXPECT_EQ(sealer->Open(theirs, "ae").status().code(), StatusCode::kDataLoss);
  auto other = Sealer::Create(RandomKey(rnd_), rnd_);
  EXPECT_EQ(other->Open(theirs, "ad").status().code(), StatusCode::kDataLoss);
  for (size_t byte : {size_t{0}, size_t{15}, size_t{16}, size_t{23}, size_t{24}, size_t{500},
                      theirs.size() - 1}) {
    theirs[byte] ^= 0x20;
    EXPECT_EQ(sealer->Open(theirs, "ad").status().code(), StatusCode::kDataLoss) << byte;
    theirs[byte] ^= 0x20;
  }
  EXPECT_TRUE(sealer->Open(theirs, "ad").ok());
}

TEST_F(AeadEquivalenceTest, ConcurrentOpensWithSealing) {
  SecretBytes key = RandomKey(rnd_);
  auto sealer = Sealer::Create(key.Clone(), rnd_);
  ASSERT_TRUE(sealer.ok());
  // Values of two prefixes: this Sealer's and libsodium's random ones.
  std::vector<std::string> plains, sealed;
  for (int i = 0; i < 64; ++i) {
    plains.push_back(RandomBytes(rnd_, 100 + static_cast<size_t>(i) * 7));
    sealed.push_back(i % 2 == 0 ? *sealer->Seal(plains.back(), "ad")
                                : SodiumSeal(key, RandomBytes(rnd_, kSealNonceBytes), plains.back(), "ad"));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {  // more threads than open slots
    threads.emplace_back([&, t] {
      for (int i = 0; i < 400; ++i) {
        const size_t j = static_cast<size_t>(i * 13 + t) % sealed.size();
        auto r = sealer->Open(sealed[j], "ad");
        if (!r.ok() || *r != plains[j]) failures.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 400; ++i) {  // Seal runs on this thread meanwhile
    auto s = sealer->Seal("x", "ad");
    if (!s.ok() || !sealer->Open(*s, "ad").ok()) failures.fetch_add(1);
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace doorstep::core
