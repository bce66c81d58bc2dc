// Line diff for the three-way text merge: Myers' O(ND) algorithm in its
// linear-space form (find the middle snake, recurse on both halves), over
// sequences of line ids. Not a public API; merge_text.cc and tests use it.
//
// Memory is O(N+M). Time is O((N+M)·D) at worst and is capped by a work
// budget: once the budget is spent, the remaining unsolved regions are
// reported as one replacement each. The result is then still a correct diff
// (applying it to `a` gives `b`), only a coarser one.
// Thread safety: pure functions.
#ifndef DOORSTEP_CORE_MERGE_DIFF_INTERNAL_H_
#define DOORSTEP_CORE_MERGE_DIFF_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace doorstep::core::merge_internal {

// a[a_begin, a_end) is replaced by b[b_begin, b_end). An insertion has
// a_begin == a_end; a deletion has b_begin == b_end.
struct Hunk {
  size_t a_begin = 0;
  size_t a_end = 0;
  size_t b_begin = 0;
  size_t b_end = 0;
};

// Roughly 0.1-0.3 s of work on one core.
inline constexpr uint64_t kDefaultDiffWorkBudget = 50'000'000;

// The hunks turning `a` into `b`, in increasing order, each pair separated by
// at least one unchanged element of `a` (and of `b`). Minimal (a shortest
// edit script) unless the work budget ran out.
std::vector<Hunk> DiffSequences(const std::vector<uint32_t>& a,
                                const std::vector<uint32_t>& b,
                                uint64_t work_budget = kDefaultDiffWorkBudget);

}  // namespace doorstep::core::merge_internal

#endif  // DOORSTEP_CORE_MERGE_DIFF_INTERNAL_H_
