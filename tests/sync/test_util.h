// Helpers shared by the sync tests.
#ifndef DOORSTEP_TESTS_SYNC_TEST_UTIL_H_
#define DOORSTEP_TESTS_SYNC_TEST_UTIL_H_

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace doorstep::sync::testing {

// $name, or `fallback` when unset.
inline std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

inline std::string VectorPath() {
  return EnvOr("DOORSTEP_SHARED", DOORSTEP_TEST_SHARED_DIR) +
         "/vectors/noise/cacophony-25519-chachapoly-blake2b.json";
}

inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace doorstep::sync::testing

#endif  // DOORSTEP_TESTS_SYNC_TEST_UTIL_H_
