// Line-level three-way merge (diff3 style). See merge.h and docs/merge.md.
//
// 1. Split the three texts into lines (each keeping its '\n'), give equal
//    lines equal ids, and diff base→server and base→device (merge_diff.cc).
// 2. Sweep the hunks of both diffs in base order, grouping hunks of the two
//    sides that touch (overlap, or an insertion inside or at the edge of the
//    other side's change) into chunks.
// 3. A chunk with one hunk applies it. A chunk with hunks from both sides
//    applies them if both sides turned the chunk's base range into the same
//    lines, and is a conflict otherwise.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "doorstep/core/merge.h"
#include "merge_diff_internal.h"

namespace doorstep::core {
namespace {

using merge_internal::Hunk;

bool TooLarge(std::string_view text) {
  if (text.size() > kMergeMaxTextBytes) return true;
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  if (!text.empty() && text.back() != '\n') ++lines;
  return lines > kMergeMaxTextLines;
}

// One side of the merge: its lines, their ids and its diff from the base.
struct Side {
  std::vector<std::string_view> lines;
  std::vector<uint32_t> ids;
  std::vector<Hunk> hunks;
};

class LineInterner {
 public:
  std::vector<uint32_t> Intern(const std::vector<std::string_view>& lines) {
    std::vector<uint32_t> ids;
    ids.reserve(lines.size());
    for (std::string_view line : lines) {
      auto it = ids_.emplace(line, static_cast<uint32_t>(ids_.size())).first;
      ids.push_back(it->second);
    }
    return ids;
  }

 private:
  std::unordered_map<std::string_view, uint32_t> ids_;
};

bool IsInsertion(const Hunk& h) { return h.a_begin == h.a_end; }

// Whether hunks of different sides touch the same part of the base.
bool Touch(const Hunk& p, const Hunk& q) {
  if (!IsInsertion(p) && !IsInsertion(q)) {
    return p.a_begin < q.a_end && q.a_begin < p.a_end;  // ranges overlap
  }
  // An insertion point touches a range it lies in or on the edge of, and an
  // insertion at the same point.
  return p.a_begin <= q.a_end && q.a_begin <= p.a_end;
}

// What `side` made of base lines [lo, hi), given its hunks inside that range.
std::vector<uint32_t> ChunkIds(const std::vector<uint32_t>& base_ids,
                               const Side& side, const std::vector<Hunk>& hunks,
                               size_t lo, size_t hi) {
  std::vector<uint32_t> out;
  size_t pos = lo;
  for (const Hunk& h : hunks) {
    out.insert(out.end(), base_ids.begin() + pos, base_ids.begin() + h.a_begin);
    out.insert(out.end(), side.ids.begin() + h.b_begin, side.ids.begin() + h.b_end);
    pos = h.a_end;
  }
  out.insert(out.end(), base_ids.begin() + pos, base_ids.begin() + hi);
  return out;
}

class ThreeWay {
 public:
  ThreeWay(const std::vector<std::string_view>& base_lines,
           const std::vector<uint32_t>& base_ids, const Side& server,
           const Side& device)
      : base_lines_(base_lines), base_ids_(base_ids), server_(server),
        device_(device) {}

  // Returns false on conflict; otherwise `out` holds the merged text.
  bool Run(std::string* out) {
    size_t i = 0, j = 0;
    const auto& s = server_.hunks;
    const auto& d = device_.hunks;
    while (i < s.size() || j < d.size()) {
      const bool take_server =
          j == d.size() ||
          (i < s.size() && (s[i].a_begin < d[j].a_begin ||
                            (s[i].a_begin == d[j].a_begin && s[i].a_end <= d[j].a_end)));
      const Hunk& h = take_server ? s[i++] : d[j++];
      std::vector<Hunk>& mine = take_server ? chunk_server_ : chunk_device_;
      const std::vector<Hunk>& theirs = take_server ? chunk_device_ : chunk_server_;
      const bool joins = !theirs.empty() && Touch(h, theirs.back());
      if (!joins && !(chunk_server_.empty() && chunk_device_.empty())) {
        if (!Flush()) return false;
      }
      mine.push_back(h);
    }
    if (!Flush()) return false;
    AppendBase(base_lines_.size());
    *out = std::move(out_);
    return true;
  }

 private:
  void AppendBase(size_t until) {
    for (; pos_ < until; ++pos_) out_.append(base_lines_[pos_]);
  }

  static void AppendLines(const Side& side, size_t begin, size_t end, std::string* out) {
    for (size_t k = begin; k < end; ++k) out->append(side.lines[k]);
  }

  // Resolves the current chunk. Returns false on conflict.
  bool Flush() {
    if (chunk_server_.empty() || chunk_device_.empty()) {
      // One side only (hunks of one side never touch each other: one hunk).
      const Side& side = chunk_server_.empty() ? device_ : server_;
      for (const Hunk& h : chunk_server_.empty() ? chunk_device_ : chunk_server_) {
        AppendBase(h.a_begin);
        AppendLines(side, h.b_begin, h.b_end, &out_);
        pos_ = h.a_end;
      }
    } else {
      size_t lo = std::min(chunk_server_.front().a_begin, chunk_device_.front().a_begin);
      size_t hi = std::max(chunk_server_.back().a_end, chunk_device_.back().a_end);
      std::vector<uint32_t> from_server = ChunkIds(base_ids_, server_, chunk_server_, lo, hi);
      if (from_server != ChunkIds(base_ids_, device_, chunk_device_, lo, hi)) return false;
      // Both sides made the same lines of [lo, hi): emit the server's.
      AppendBase(lo);
      for (const Hunk& h : chunk_server_) {
        AppendBase(h.a_begin);
        AppendLines(server_, h.b_begin, h.b_end, &out_);
        pos_ = h.a_end;
      }
      AppendBase(hi);
    }
    chunk_server_.clear();
    chunk_device_.clear();
    return true;
  }

  const std::vector<std::string_view>& base_lines_;
  const std::vector<uint32_t>& base_ids_;
  const Side& server_;
  const Side& device_;
  std::vector<Hunk> chunk_server_;
  std::vector<Hunk> chunk_device_;
  size_t pos_ = 0;  // base lines before pos_ are resolved
  std::string out_;
};

}  // namespace

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

TextMergeResult MergeLines(std::string_view base, std::string_view server,
                           std::string_view device) {
  TextMergeResult result;
  if (server == device || device == base) {
    result.merged = std::string(server);
    return result;
  }
  if (server == base) {
    result.merged = std::string(device);
    return result;
  }
  result.merged = std::string(server);  // provisional, in case of conflict
  if (TooLarge(base) || TooLarge(server) || TooLarge(device)) {
    result.conflict = true;
    result.too_large = true;
    return result;
  }

  LineInterner interner;
  std::vector<std::string_view> base_lines = SplitLines(base);
  std::vector<uint32_t> base_ids = interner.Intern(base_lines);
  Side s, d;
  s.lines = SplitLines(server);
  s.ids = interner.Intern(s.lines);
  s.hunks = merge_internal::DiffSequences(base_ids, s.ids);
  d.lines = SplitLines(device);
  d.ids = interner.Intern(d.lines);
  d.hunks = merge_internal::DiffSequences(base_ids, d.ids);

  std::string merged;
  if (!ThreeWay(base_lines, base_ids, s, d).Run(&merged)) {
    result.conflict = true;
    return result;
  }
  result.merged = std::move(merged);
  return result;
}

}  // namespace doorstep::core
