// Myers' linear-space diff (E. Myers, "An O(ND) Difference Algorithm and Its
// Variations", 1986, section 4b). See merge_diff_internal.h.
//
// Compare() trims the common prefix and suffix of a region, then asks
// Bisect() for a point on a shortest edit path (the end of the "middle
// snake", found by running the greedy search from both corners at once) and
// recurses on the two sub-rectangles. Deleted elements of `a` and inserted
// elements of `b` are flagged; Hunks() walks the flags.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "merge_diff_internal.h"

namespace doorstep::core::merge_internal {
namespace {

using Index = int64_t;

class Differ {
 public:
  Differ(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b,
         uint64_t budget)
      : a_(a), b_(b), deleted_(a.size(), false), inserted_(b.size(), false),
        budget_(budget) {}

  std::vector<Hunk> Run() {
    Compare(0, static_cast<Index>(a_.size()), 0, static_cast<Index>(b_.size()));
    return Hunks();
  }

 private:
  void MarkAll(Index a0, Index a1, Index b0, Index b1) {
    for (Index i = a0; i < a1; ++i) deleted_[static_cast<size_t>(i)] = true;
    for (Index j = b0; j < b1; ++j) inserted_[static_cast<size_t>(j)] = true;
  }

  bool Same(Index i, Index j) const {
    return a_[static_cast<size_t>(i)] == b_[static_cast<size_t>(j)];
  }

  void Compare(Index a0, Index a1, Index b0, Index b1) {
    while (a0 < a1 && b0 < b1 && Same(a0, b0)) ++a0, ++b0;
    while (a0 < a1 && b0 < b1 && Same(a1 - 1, b1 - 1)) --a1, --b1;
    if (a0 == a1 || b0 == b1) {
      MarkAll(a0, a1, b0, b1);
      return;
    }
    Index x = 0, y = 0;
    if (!Bisect(a0, a1, b0, b1, &x, &y) || (x == a0 && y == b0) ||
        (x == a1 && y == b1)) {
      // Budget spent (or no progress, which would be a bug): replace wholesale.
      MarkAll(a0, a1, b0, b1);
      return;
    }
    Compare(a0, x, b0, y);
    Compare(x, a1, y, b1);
  }

  // Finds a point (x, y) on a shortest path from (a0, b0) to (a1, b1), with
  // both regions non-empty and differing at both ends. Returns false when the
  // work budget runs out.
  bool Bisect(Index a0, Index a1, Index b0, Index b1, Index* x_out, Index* y_out) {
    const Index n = a1 - a0;
    const Index m = b1 - b0;
    const Index delta = n - m;
    const bool odd = (delta & 1) != 0;
    const Index max_d = (n + m + 1) / 2;
    const Index offset = max_d + 1;
    const size_t size = static_cast<size_t>(2 * max_d + 3);
    if (forward_.size() < size) forward_.resize(size);
    if (backward_.size() < size) backward_.resize(size);
    // forward_[offset + k]: furthest x reached on diagonal k = x - y from
    // (a0, b0). backward_[offset + k]: furthest distance travelled back from
    // (a1, b1) on reversed diagonal k. Round d writes diagonals -d..d in steps
    // of 2 and reads only what round d-1 (or its own forward pass) wrote.
    Index* vf = forward_.data() + offset;
    Index* vb = backward_.data() + offset;

    for (Index d = 0; d <= max_d; ++d) {
      work_ += static_cast<uint64_t>(2 * d + 2);
      if (work_ > budget_) return false;
      // Forward search.
      for (Index k = -d; k <= d; k += 2) {
        Index x = NextX(vf, k, d, n, m);
        if (x < 0) {
          vf[k] = kUnreachable;
          continue;
        }
        Index y = x - k;
        const Index x_start = x;
        while (x < n && y < m && Same(a0 + x, b0 + y)) ++x, ++y;
        work_ += static_cast<uint64_t>(x - x_start);
        vf[k] = x;
        const Index kb = delta - k;
        if (odd && kb >= -(d - 1) && kb <= d - 1 && vb[kb] >= 0 &&
            x >= n - vb[kb]) {
          *x_out = a0 + x;
          *y_out = b0 + y;
          return true;
        }
      }
      // Backward search, over the reversed sequences.
      for (Index k = -d; k <= d; k += 2) {
        Index x = NextX(vb, k, d, n, m);
        if (x < 0) {
          vb[k] = kUnreachable;
          continue;
        }
        Index y = x - k;
        const Index x_start = x;
        while (x < n && y < m && Same(a1 - 1 - x, b1 - 1 - y)) ++x, ++y;
        work_ += static_cast<uint64_t>(x - x_start);
        vb[k] = x;
        const Index kf = delta - k;
        if (!odd && kf >= -d && kf <= d && vf[kf] >= 0 && vf[kf] >= n - x) {
          *x_out = a1 - x;
          *y_out = b1 - y;
          return true;
        }
      }
      if (work_ > budget_) return false;
    }
    return false;  // unreachable for a correct search; caller falls back
  }

  // The furthest x a d-path can start its final snake at on diagonal k: one
  // step down from diagonal k+1 or one step right from diagonal k-1, staying
  // inside the n-by-m grid. Returns -1 if neither move is possible.
  static Index NextX(const Index* v, Index k, Index d, Index n, Index m) {
    if (d == 0) return 0;
    Index best = -1;
    if (k < d && v[k + 1] >= 0 && v[k + 1] - k <= m) best = v[k + 1];  // down
    if (k > -d && v[k - 1] >= 0 && v[k - 1] + 1 <= n) {               // right
      best = std::max(best, v[k - 1] + 1);
    }
    return best;
  }

  std::vector<Hunk> Hunks() const {
    std::vector<Hunk> hunks;
    const size_t n = a_.size();
    const size_t m = b_.size();
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && !deleted_[i] && !inserted_[j]) {
        ++i, ++j;
        continue;
      }
      Hunk h;
      h.a_begin = i;
      h.b_begin = j;
      while (i < n && deleted_[i]) ++i;
      while (j < m && inserted_[j]) ++j;
      if (i == h.a_begin && j == h.b_begin) {
        // Unchanged counts disagree (a bug): keep the diff correct anyway.
        i = n;
        j = m;
      }
      h.a_end = i;
      h.b_end = j;
      hunks.push_back(h);
    }
    return hunks;
  }

  static constexpr Index kUnreachable = -1;

  const std::vector<uint32_t>& a_;
  const std::vector<uint32_t>& b_;
  std::vector<bool> deleted_;
  std::vector<bool> inserted_;
  std::vector<Index> forward_;
  std::vector<Index> backward_;
  uint64_t budget_;
  uint64_t work_ = 0;
};

}  // namespace

std::vector<Hunk> DiffSequences(const std::vector<uint32_t>& a,
                                const std::vector<uint32_t>& b,
                                uint64_t work_budget) {
  return Differ(a, b, work_budget).Run();
}

}  // namespace doorstep::core::merge_internal
