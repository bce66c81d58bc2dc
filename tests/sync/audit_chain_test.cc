// AuditCanonicalBytes / AuditHash / ChainAuditEntry (sync/src/audit_chain.cc)
// against the form they were computed in before: the compact dump of the
// json object {id, at, actor, action, details}. The same bytes for odd
// strings (escapes, non-ASCII, invalid UTF-8), negative times, large ids and
// any details, so chains written before still verify.
#include "audit_chain_internal.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doorstep/core/crypto.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;

std::string OldCanonical(const AuditEntry& e) {
  json j = {{"id", e.id}, {"at", e.at}, {"actor", e.actor}, {"action", e.action},
            {"details", e.details}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string OldHash(const AuditEntry& e) {
  auto prev = core::FromHex(e.prev_hash);
  std::string input = prev.ok() ? *prev : e.prev_hash;
  input += OldCanonical(e);
  return core::ToHex(core::Blake2b256(input));
}

std::vector<AuditEntry> Entries() {
  std::vector<AuditEntry> out;
  AuditEntry e;
  e.id = 1;
  e.at = 1700000000000;
  e.actor = "device:0123456789abcdef0123456789abcdef";
  e.action = "write";
  e.details = {{"mutation", std::string(32, 'a')}, {"record", std::string(32, 'b')},
               {"subject", "S-001"}, {"outcome", "conflict"}, {"rev", 3},
               {"conflicts", {"c1", "c2"}}, {"reason", "invalid"}};
  e.prev_hash = kAuditGenesisHash;
  out.push_back(e);
  e.id = UINT64_MAX;
  e.at = -5;
  e.actor = "quote\" back\\slash \n\t\x01 caf\xc3\xa9 \xe2\x82\xac";
  e.action = std::string("bad utf8 \xff\xfe end") + std::string(1, '\0') + "nul";
  e.details = {{"nested", {{"b", 1.5}, {"a", nullptr}, {"k\xff", "v\x80"}}}, {"n", -7}};
  e.prev_hash = "not hex";
  out.push_back(e);
  e.id = 0;
  e.at = 0;
  e.actor.clear();
  e.action.clear();
  e.details = json::object();
  e.prev_hash = std::string(64, 'f');
  out.push_back(e);
  e.details = json("a row whose details no longer parse {");  // as ReadAudit keeps them
  out.push_back(e);
  e.details = json::array({1, "two", true});
  out.push_back(e);
  return out;
}

TEST(AuditChainTest, CanonicalBytesAreTheJsonObjectsDump) {
  for (const AuditEntry& e : Entries()) {
    EXPECT_EQ(AuditCanonicalBytes(e), OldCanonical(e)) << OldCanonical(e);
    EXPECT_EQ(AuditHash(e), OldHash(e));
  }
}

TEST(AuditChainTest, ChainAuditEntrySetsTheHashAndReturnsTheDetailsColumn) {
  for (AuditEntry e : Entries()) {
    std::string details = internal::ChainAuditEntry(&e);
    EXPECT_EQ(e.hash, OldHash(e));
    EXPECT_EQ(details, e.details.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

}  // namespace
}  // namespace doorstep::sync
