// The protocol fuzz target's seed corpus (tests/fuzz/corpus/
// fuzz_protocol_decode) holds a valid encoding of every message type, of a
// push with both mutation kinds and of an enrolment request, so the fuzzer
// starts from every decoder path.
#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "doorstep/sync/protocol.h"
#include "test_util.h"

namespace doorstep::sync {
namespace {

TEST(FuzzCorpusTest, ProtocolSeedsCoverEveryMessageType) {
  std::string dir = testing::EnvOr("DOORSTEP_SOURCE", DOORSTEP_TEST_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_protocol_decode";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::set<std::string> types;
  std::set<MutationKind> kinds;
  bool enrol = false;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string bytes = testing::ReadFileOrEmpty(e.path().string());
    auto msg = Decode(bytes);
    if (msg.ok()) {
      types.insert(MessageTypeName(*msg));
      if (auto* push = std::get_if<Push>(&*msg)) {
        for (const auto& m : push->m) kinds.insert(m.kind);
      }
    }
    enrol = enrol || DecodeEnrolRequest(bytes).ok();
  }
  const Message every[] = {Hello{}, Welcome{}, Push{}, Pushed{}, Pull{}, Batch{}, Bye{}, Error{}};
  for (const Message& m : every) EXPECT_EQ(types.count(MessageTypeName(m)), 1u) << MessageTypeName(m);
  EXPECT_EQ(kinds.size(), 2u) << "a push with a put and a resolve mutation";
  EXPECT_TRUE(enrol);
}

}  // namespace
}  // namespace doorstep::sync
