// Helpers for driving pairs of SecureChannels in memory.
#ifndef DOORSTEP_TESTS_SYNC_CHANNEL_TEST_UTIL_H_
#define DOORSTEP_TESTS_SYNC_CHANNEL_TEST_UTIL_H_

#include <set>
#include <string>
#include <utility>

#include "doorstep/core/env.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/secure_channel.h"

namespace doorstep::sync::testing {

// A fixed allow-list of device keys, as the server's hook in tests.
inline HandshakeAuthorizer AllowList(std::set<std::string> keys) {
  return [keys = std::move(keys)](const std::string& remote, const std::string&) -> Status {
    if (keys.count(remote) == 0) return PermissionDeniedError("unknown device");
    return Status::Ok();
  };
}

// Moves output from each channel to the other until both are quiet.
// Returns the first non-ok Feed status, if any.
inline Status Pump(SecureChannel& a, SecureChannel& b) {
  Status first;
  for (int round = 0; round < 100 && (a.HasOutput() || b.HasOutput()); ++round) {
    if (a.HasOutput()) {
      Status s = b.Feed(a.TakeOutput());
      if (first.ok()) first = s;
    }
    if (b.HasOutput()) {
      Status s = a.Feed(b.TakeOutput());
      if (first.ok()) first = s;
    }
  }
  return first;
}

}  // namespace doorstep::sync::testing

#endif  // DOORSTEP_TESTS_SYNC_CHANNEL_TEST_UTIL_H_
