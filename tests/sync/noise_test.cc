// The Noise state machine: published vectors, nonce rules, handshake errors.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/sync/noise_cipher_state.h"
#include "doorstep/sync/noise_handshake.h"
#include "doorstep/sync/noise_vectors.h"
#include "sync/test_util.h"

namespace doorstep::sync {
namespace {

class NoiseTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Initialize().ok()); }
  SeededRandom random_{42};
};

TEST_F(NoiseTest, PublishedVectorsPass) {
  std::string text = testing::ReadFileOrEmpty(testing::VectorPath());
  ASSERT_FALSE(text.empty()) << testing::VectorPath();
  Result<std::vector<NoiseVectorOutcome>> outcomes = RunNoiseVectors(text);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), 4u);
  for (const NoiseVectorOutcome& o : *outcomes) {
    EXPECT_EQ(o.kind, NoiseVectorOutcome::kPassed) << o.protocol_name << ": " << o.detail;
    EXPECT_EQ(o.messages, 6u) << o.protocol_name;
  }
}

TEST_F(NoiseTest, OneFlippedCiphertextByteFailsThatVector) {
  std::string text = testing::ReadFileOrEmpty(testing::VectorPath());
  size_t pos = text.find("\"ciphertext\"");
  ASSERT_NE(pos, std::string::npos);
  pos = text.find('"', pos + 13) + 5;  // a hex digit inside the first ciphertext
  text[pos] = text[pos] == '0' ? '1' : '0';
  Result<std::vector<NoiseVectorOutcome>> outcomes = RunNoiseVectors(text);
  ASSERT_TRUE(outcomes.ok());
  EXPECT_EQ((*outcomes)[0].kind, NoiseVectorOutcome::kFailed);
  EXPECT_EQ((*outcomes)[1].kind, NoiseVectorOutcome::kPassed);
}

TEST_F(NoiseTest, UnsupportedProtocolsAreSkippedAndGarbageRejected) {
  Result<std::vector<NoiseVectorOutcome>> r = RunNoiseVectors(
      R"({"vectors":[{"protocol_name":"Noise_XX_448_AESGCM_SHA512","messages":[]},
                     {"protocol_name":"Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"}, 7]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].kind, NoiseVectorOutcome::kSkipped);
  EXPECT_EQ((*r)[1].kind, NoiseVectorOutcome::kSkipped);
  EXPECT_EQ((*r)[2].kind, NoiseVectorOutcome::kFailed);
  EXPECT_EQ(RunNoiseVectors("{").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RunNoiseVectors("[]").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(NoiseTest, ProtocolNames) {
  EXPECT_EQ(ProtocolName(HandshakePattern::kXX), "Noise_XX_25519_ChaChaPoly_BLAKE2b");
  EXPECT_EQ(*PatternFromProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b"), HandshakePattern::kIK);
  EXPECT_EQ(PatternFromProtocolName("Noise_XX_25519_AESGCM_BLAKE2b").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(NoiseTest, NonceTwoToTheSixtyFourMinusOneIsReserved) {
  unsigned char key[32] = {1, 2, 3};
  CipherState enc, dec;
  enc.InitializeKey(key);
  dec.InitializeKey(key);
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  enc.SetNonce(max - 1);
  dec.SetNonce(max - 1);
  std::string ct, pt;
  ASSERT_TRUE(enc.EncryptWithAd("ad", "last", &ct).ok());
  ASSERT_TRUE(dec.DecryptWithAd("ad", ct, &pt).ok());
  EXPECT_EQ(pt, "last");
  EXPECT_EQ(enc.nonce(), max);
  std::string more;
  EXPECT_EQ(enc.EncryptWithAd("ad", "one more", &more).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(more.empty());
  EXPECT_EQ(dec.DecryptWithAd("ad", ct, &more).code(), StatusCode::kResourceExhausted);
}

TEST_F(NoiseTest, FailedDecryptLeavesNonceAndOutputUnchanged) {
  unsigned char key[32] = {9};
  CipherState enc, dec;
  enc.InitializeKey(key);
  dec.InitializeKey(key);
  std::string ct, pt = "keep";
  ASSERT_TRUE(enc.EncryptWithAd({}, "hello", &ct).ok());
  ct[0] ^= 1;
  EXPECT_EQ(dec.DecryptWithAd({}, ct, &pt).code(), StatusCode::kDataLoss);
  EXPECT_EQ(pt, "keep");
  EXPECT_EQ(dec.nonce(), 0u);
  EXPECT_EQ(dec.DecryptWithAd({}, "short", &pt).code(), StatusCode::kDataLoss);
}

TEST_F(NoiseTest, RekeyChangesTheKeyOnBothSidesAlike) {
  unsigned char key[32] = {5};
  CipherState a, b;
  a.InitializeKey(key);
  b.InitializeKey(key);
  a.Rekey();
  std::string ct, pt;
  ASSERT_TRUE(a.EncryptWithAd({}, "x", &ct).ok());
  EXPECT_EQ(b.DecryptWithAd({}, ct, &pt).code(), StatusCode::kDataLoss);
  b.Rekey();
  EXPECT_TRUE(b.DecryptWithAd({}, ct, &pt).ok());
}

// An XX handshake between two HandshakeStates with random keys.
struct XxPair {
  HandshakeState init, resp;
};

XxPair MakeXx(Random& random) {
  HandshakeConfig ic, rc;
  ic.initiator = true;
  ic.local_static = GenerateKeyPair(random);
  ic.random = &random;
  rc.local_static = GenerateKeyPair(random);
  rc.random = &random;
  Result<HandshakeState> i = HandshakeState::Create(std::move(ic));
  Result<HandshakeState> r = HandshakeState::Create(std::move(rc));
  EXPECT_TRUE(i.ok() && r.ok());
  return XxPair{std::move(i).value(), std::move(r).value()};
}

TEST_F(NoiseTest, XxHandshakeCarriesPayloadsAndAgrees) {
  XxPair p = MakeXx(random_);
  std::string m1, m2, m3, got;
  ASSERT_TRUE(p.init.IsMyTurn());
  EXPECT_EQ(p.resp.WriteMessage("", &m1).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(p.init.WriteMessage("", &m1).ok());
  EXPECT_EQ(m1.size(), 32u);
  ASSERT_TRUE(p.resp.ReadMessage(m1, &got).ok());
  ASSERT_TRUE(p.resp.WriteMessage("", &m2).ok());
  ASSERT_TRUE(p.init.ReadMessage(m2, &got).ok());
  ASSERT_TRUE(p.init.WriteMessage("enrolment code", &m3).ok());
  ASSERT_TRUE(p.resp.ReadMessage(m3, &got).ok());
  EXPECT_EQ(got, "enrolment code");
  ASSERT_TRUE(p.init.IsComplete() && p.resp.IsComplete());
  EXPECT_EQ(p.init.handshake_hash(), p.resp.handshake_hash());
  CipherState is, ir, rs, rr;
  ASSERT_TRUE(p.init.Split(&is, &ir).ok());
  ASSERT_TRUE(p.resp.Split(&rs, &rr).ok());
  EXPECT_EQ(p.init.Split(&is, &ir).code(), StatusCode::kFailedPrecondition);
  std::string ct, pt;
  ASSERT_TRUE(is.EncryptWithAd({}, "to server", &ct).ok());
  ASSERT_TRUE(rr.DecryptWithAd({}, ct, &pt).ok());
  EXPECT_EQ(pt, "to server");
}

TEST_F(NoiseTest, TamperedHandshakeMessageKillsTheHandshake) {
  XxPair p = MakeXx(random_);
  std::string m1, m2, got;
  ASSERT_TRUE(p.init.WriteMessage("", &m1).ok());
  ASSERT_TRUE(p.resp.ReadMessage(m1, &got).ok());
  ASSERT_TRUE(p.resp.WriteMessage("", &m2).ok());
  m2[40] ^= 0x80;  // inside the encrypted static key
  EXPECT_EQ(p.init.ReadMessage(m2, &got).code(), StatusCode::kDataLoss);
  std::string m3;
  EXPECT_EQ(p.init.WriteMessage("", &m3).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(p.init.IsComplete());
}

TEST_F(NoiseTest, ShortAndLowOrderHandshakeMessagesAreRejected) {
  XxPair p = MakeXx(random_);
  std::string got;
  EXPECT_EQ(p.resp.ReadMessage(std::string(31, 'x'), &got).code(), StatusCode::kDataLoss);
  XxPair q = MakeXx(random_);
  std::string m1;
  ASSERT_TRUE(q.init.WriteMessage("", &m1).ok());
  ASSERT_TRUE(q.resp.ReadMessage(std::string(32, '\0'), &got).ok());  // e = 0 (low order)
  std::string m2;
  EXPECT_EQ(q.resp.WriteMessage("", &m2).code(), StatusCode::kDataLoss);  // ee is all zero
}

TEST_F(NoiseTest, CreateChecksKeysAgainstThePattern) {
  HandshakeConfig c;
  c.random = &random_;
  c.initiator = true;
  EXPECT_EQ(HandshakeState::Create(std::move(c)).status().code(), StatusCode::kInvalidArgument);
  HandshakeConfig nn;
  nn.pattern = HandshakePattern::kNN;
  nn.random = &random_;
  nn.local_static = GenerateKeyPair(random_);
  EXPECT_EQ(HandshakeState::Create(std::move(nn)).status().code(), StatusCode::kInvalidArgument);
  HandshakeConfig ik;
  ik.pattern = HandshakePattern::kIK;
  ik.initiator = true;
  ik.random = &random_;
  ik.local_static = GenerateKeyPair(random_);
  EXPECT_EQ(HandshakeState::Create(std::move(ik)).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace doorstep::sync
