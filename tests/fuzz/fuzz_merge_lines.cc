// Fuzzes the line-level three-way text merge (core/merge.h MergeLines). The
// input is split at NUL bytes into base, a and b (missing parts are empty);
// '\x01' becomes '\n' so short inputs have many lines. Checks the properties
// merge.h promises, for every input:
//   merge(base, a, base) = a;  merge(base, base, b) = b;  merge(base, a, a) = a
//   (all without conflict); and a conflict is reported the same way whichever
//   side is "server": merge(base, a, b) and merge(base, b, a) agree on the
//   conflict and too_large flags, give the same text when clean, and keep the
//   server's text when they conflict.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "doorstep/core/merge.h"

namespace {

using doorstep::core::MergeLines;
using doorstep::core::TextMergeResult;

void Check(bool ok) {
  if (!ok) std::abort();
}

void Clean(const TextMergeResult& r, const std::string& want) {
  Check(!r.conflict && !r.too_large);
  Check(r.merged == want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 32 * 1024) return 0;
  std::string parts[3];
  int at = 0;
  for (size_t i = 0; i < size; ++i) {
    char c = static_cast<char>(data[i]);
    if (c == '\0' && at < 2) {
      ++at;
      continue;
    }
    parts[at].push_back(c == '\x01' ? '\n' : c);
  }
  const std::string& base = parts[0];
  const std::string& a = parts[1];
  const std::string& b = parts[2];

  Clean(MergeLines(base, a, base), a);
  Clean(MergeLines(base, base, b), b);
  Clean(MergeLines(base, a, a), a);
  Clean(MergeLines(base, base, base), base);

  TextMergeResult ab = MergeLines(base, a, b);
  TextMergeResult ba = MergeLines(base, b, a);
  Check(ab.conflict == ba.conflict);
  Check(ab.too_large == ba.too_large);
  Check(!ab.too_large || ab.conflict);
  if (ab.conflict) {
    Check(ab.merged == a);  // the server's text is kept provisionally
    Check(ba.merged == b);
  } else {
    Check(ab.merged == ba.merged);
    // A clean merge of a with b, merged again with either side, is stable.
    Clean(MergeLines(a, ab.merged, ab.merged), ab.merged);
  }
  return 0;
}
