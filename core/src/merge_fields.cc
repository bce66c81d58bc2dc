// Field-level three-way merge of a record's `fields` object. See merge.h and
// docs/merge.md.
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "doorstep/core/merge.h"

namespace doorstep::core {
namespace {

using nlohmann::json;

constexpr int kMaxObjectDepth = 32;

// Membership by JSON equality, with a hash to keep it near-linear.
class JsonSet {
 public:
  bool Contains(const json& v) const {
    auto range = index_.equal_range(std::hash<json>{}(v));
    for (auto it = range.first; it != range.second; ++it) {
      if (*it->second == v) return true;
    }
    return false;
  }
  // `v` must outlive the set.
  void Add(const json& v) { index_.emplace(std::hash<json>{}(v), &v); }

 private:
  std::unordered_multimap<size_t, const json*> index_;
};

JsonSet SetOf(const json& array) {
  JsonSet set;
  if (array.is_array()) {
    for (const json& v : array) set.Add(v);
  }
  return set;
}

// Elements of `server` that the device did not remove, then the device's
// additions; each element once.
json MergeSet(const json& base, const json& server, const json& device) {
  const JsonSet in_base = SetOf(base);
  const JsonSet in_server = SetOf(server);
  const JsonSet in_device = SetOf(device);
  JsonSet emitted;
  json out = json::array();
  for (const json& v : server) {
    if (in_base.Contains(v) && !in_device.Contains(v)) continue;  // device removed it
    if (emitted.Contains(v)) continue;
    emitted.Add(v);
    out.push_back(v);
  }
  for (const json& v : device) {
    if (in_base.Contains(v) || in_server.Contains(v)) continue;  // not a new element
    if (emitted.Contains(v)) continue;
    emitted.Add(v);
    out.push_back(v);
  }
  return out;
}

const json& Member(const json& object, const std::string& key) {
  static const json* const kAbsent = new json();
  if (!object.is_object()) return *kAbsent;
  auto it = object.find(key);
  return it == object.end() ? *kAbsent : *it;
}

class FieldMerger {
 public:
  FieldMerger(const MergeRuleFn& rule, std::vector<FieldConflict>* conflicts)
      : rule_(rule), conflicts_(conflicts) {}

  // The merged value at `path`; null means absent.
  json Merge(const std::string& path, const json& b, const json& s,
             const json& d, int depth) {
    if (s == d || d == b) return s;
    if (s == b) return d;
    const MergeRule rule = rule_ ? rule_(path) : MergeRule::kScalar;
    switch (rule) {
      case MergeRule::kLines:
        if (s.is_string() && d.is_string() && (b.is_string() || b.is_null())) {
          TextMergeResult text = MergeLines(
              b.is_string() ? b.get_ref<const std::string&>() : std::string(),
              s.get_ref<const std::string&>(), d.get_ref<const std::string&>());
          if (!text.conflict) return json(std::move(text.merged));
        }
        break;
      case MergeRule::kSet:
        if (s.is_array() && d.is_array() && (b.is_array() || b.is_null())) {
          return MergeSet(b, s, d);
        }
        break;
      case MergeRule::kObject:
        if (depth < kMaxObjectDepth && s.is_object() && d.is_object() &&
            (b.is_object() || b.is_null())) {
          return MergeObject(path, b, s, d, depth);
        }
        break;
      case MergeRule::kScalar:
        break;
    }
    return Conflict(path, b, s, d);
  }

  // Key by key, in sorted key order; keys whose merged value is null are
  // left out.
  json MergeObject(const std::string& path, const json& b, const json& s,
                   const json& d, int depth) {
    std::set<std::string> keys;
    for (const json* object : {&b, &s, &d}) {
      if (!object->is_object()) continue;
      for (auto it = object->begin(); it != object->end(); ++it) keys.insert(it.key());
    }
    json out = json::object();
    for (const std::string& key : keys) {
      std::string child = path.empty() ? key : path + "." + key;
      json v = Merge(child, Member(b, key), Member(s, key), Member(d, key), depth + 1);
      if (!v.is_null()) out[key] = std::move(v);
    }
    return out;
  }

  // Records a conflict at `path`; the merged value is the server's.
  json Conflict(const std::string& path, const json& b, const json& s, const json& d) {
    conflicts_->push_back(FieldConflict{path, b, s, d});
    return s;
  }

 private:
  const MergeRuleFn& rule_;
  std::vector<FieldConflict>* conflicts_;
};

}  // namespace

FieldsMergeResult MergeFields(const json& base, const json& server,
                              const json& device, const MergeRuleFn& rule) {
  FieldsMergeResult result;
  FieldMerger merger(rule, &result.conflicts);
  auto object_or_null = [](const json& v) { return v.is_object() || v.is_null(); };
  if (server == device || device == base) {
    result.merged = server;
  } else if (server == base) {
    result.merged = device;
  } else if (object_or_null(base) && object_or_null(server) && object_or_null(device)) {
    // The fields object itself always merges key by key.
    result.merged = merger.MergeObject("", base, server, device, 0);
  } else {
    result.merged = merger.Conflict("", base, server, device);
  }
  return result;
}

}  // namespace doorstep::core
