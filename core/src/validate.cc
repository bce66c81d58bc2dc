// Validate(): the generic, schema-driven checks (presence, types, formats,
// ranges, unknown fields), then the type's own rules. Recursion follows the
// schema (at most four levels), never the input, so hostile nesting costs
// nothing.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "doorstep/core/schema.h"
#include "doorstep/core/timefmt.h"
#include "schema_internal.h"

namespace doorstep::core {
namespace {

using internal::AddProblem;
using internal::IsBlankValue;
using nlohmann::json;

// Keys from the input appear in paths; keep them short, printable ASCII.
std::string SafeKey(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 64)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (key.size() > 64) out += "...";
  if (out.empty()) out = "(empty)";
  return out;
}

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Eight bytes at a time while they are all ASCII (most text is).
    for (uint64_t w; n - i >= 8; i += 8) {
      std::memcpy(&w, s.data() + i, sizeof w);
      if ((w & 0x8080808080808080ULL) != 0) break;
    }
    if (i == n) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// Where a value sits: the root object, a named field of its parent, or an
// entry of its parent list. Lives on the checker's stack; the path ("a.b[0]")
// and description ("Label > Label entry 1") are built only for a problem,
// not for every value checked.
struct Loc {
  const Loc* parent = nullptr;
  bool item = false;            // an entry of a list, else a named field
  std::string_view name, label;  // a named field's key and words
  size_t index = 0;              // an entry's position (0-based)

  static Loc Child(const Loc& parent, std::string_view name, std::string_view label) {
    Loc l;
    l.parent = &parent;
    l.name = name;
    l.label = label;
    return l;
  }
  static Loc Item(const Loc& parent, size_t index) {
    Loc l;
    l.parent = &parent;
    l.item = true;
    l.index = index;
    return l;
  }
  std::string Path() const {
    if (parent == nullptr) return "";
    std::string p = parent->Path();
    if (item) return p + "[" + std::to_string(index) + "]";
    return p.empty() ? std::string(name) : p + "." + std::string(name);
  }
  std::string Desc() const {
    if (parent == nullptr) return "";
    std::string d = parent->Desc();
    if (item) return d + " entry " + std::to_string(index + 1);
    return d.empty() ? std::string(label) : d + " > " + std::string(label);
  }
};

std::string JoinValues(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += values[i];
  }
  return out;
}

bool IsListType(FieldType t) {
  return t == FieldType::kEnumList || t == FieldType::kStringList ||
         t == FieldType::kPeople || t == FieldType::kActions ||
         t == FieldType::kObjectList;
}

class Checker {
 public:
  explicit Checker(ValidationResult* out) : out_(out) {}

  // Checks one field; `v` is nullptr when the key is absent.
  void Field(const FieldSpec& spec, const json* v, const Loc& at) {
    if (v == nullptr || IsBlankValue(*v)) {
      if (spec.presence != Presence::kRequired) return;
      const bool list = IsListType(spec.type) && v != nullptr && v->is_array();
      Add(at, "required",
          list ? ": add at least one entry." : ": this must be filled in.");
      return;
    }
    Value(spec, *v, at);
  }

  // Checks an object against `children` (`by_name`: their positions in name
  // order): each known field in the schema's order, then unknown keys.
  void Object(const std::vector<FieldSpec>& children,
              const std::vector<uint32_t>& by_name, const json& v,
              const Loc& at) {
    if (!v.is_object()) {
      Add(at, "type", ": must be a group of named fields (a JSON object).");
      return;
    }
    // A spec built outside RecordSchema has no order yet: make it here.
    std::vector<uint32_t> own;
    const std::vector<uint32_t>& order =
        by_name.size() == children.size()
            ? by_name
            : (own = internal::NameOrder(children));
    constexpr size_t kInline = 32;
    const json* inline_found[kInline];
    std::vector<const json*> heap_found;
    const json** found = inline_found;
    if (children.size() > kInline) {
      heap_found.resize(children.size());
      found = heap_found.data();
    }
    // The object keeps its keys in byte order, and `order` lists the fields
    // in the same order: one walk of both finds every field's value (a
    // search per field would walk the object's tree once per field).
    const json::object_t& obj = v.get_ref<const json::object_t&>();
    auto it = obj.begin();
    size_t unknown = 0;
    for (size_t k = 0; k < order.size(); ++k) {
      const uint32_t i = order[k];
      const std::string& name = children[i].name;
      int cmp = 1;
      while (it != obj.end() && (cmp = it->first.compare(name)) < 0) {
        ++unknown;  // a key before this field's name is no field's
        ++it;
      }
      if (it != obj.end() && cmp == 0) {
        found[i] = &it->second;
        ++it;
      } else if (k > 0 && children[order[k - 1]].name == name) {
        found[i] = found[order[k - 1]];  // a name declared twice: one value
      } else {
        found[i] = nullptr;
      }
    }
    unknown += static_cast<size_t>(std::distance(it, obj.end()));
    for (size_t i = 0; i < children.size(); ++i) {
      const FieldSpec& c = children[i];
      Field(c, found[i], Loc::Child(at, c.name, c.label));
    }
    if (unknown == 0) return;
    for (auto key = obj.begin(); key != obj.end(); ++key) {
      const bool known =
          std::any_of(children.begin(), children.end(),
                      [&](const FieldSpec& c) { return c.name == key->first; });
      if (known) continue;
      const std::string safe = SafeKey(key->first);
      Add(Loc::Child(at, safe, safe), "type",
          ": unknown field; this record type has no such field.");
    }
  }

 private:
  // A problem at `at`: its message is the place's description + `what`.
  void Add(const Loc& at, std::string code, const std::string& what) {
    AddProblem(out_, at.Path(), std::move(code), at.Desc() + what);
  }

  void Str(const json& v, size_t max, const Loc& at) {
    if (!v.is_string()) {
      Add(at, "type", ": must be text.");
      return;
    }
    const std::string& s = v.get_ref<const std::string&>();
    if (!ValidUtf8(s)) {
      Add(at, "type", ": contains characters that are not valid text (UTF-8).");
    } else if (s.size() > max) {
      Add(at, "range", ": too long (at most " + std::to_string(max) + " bytes).");
    }
  }

  void EnumValue(const FieldSpec& spec, const json& v, const Loc& at) {
    if (!v.is_string()) {
      Add(at, "type", ": must be one of " + JoinValues(spec.enum_values) + ".");
      return;
    }
    const std::string& s = v.get_ref<const std::string&>();
    if (std::find(spec.enum_values.begin(), spec.enum_values.end(), s) ==
        spec.enum_values.end()) {
      Add(at, "range", ": must be one of " + JoinValues(spec.enum_values) + ".");
    }
  }

  void Numeric(const FieldSpec& spec, const json& v, const Loc& at) {
    const bool whole = spec.type == FieldType::kInt;
    double d = 0;
    bool ok = false;
    if (v.is_number_integer() || v.is_number_unsigned()) {
      d = v.is_number_unsigned() ? static_cast<double>(v.get<uint64_t>())
                                 : static_cast<double>(v.get<int64_t>());
      ok = true;
    } else if (v.is_number_float()) {
      d = v.get<double>();
      ok = std::isfinite(d) && (!whole || std::floor(d) == d);
    }
    if (!ok) {
      Add(at, "type", whole ? ": must be a whole number." : ": must be a number.");
      return;
    }
    if (spec.has_range && (d < static_cast<double>(spec.min) ||
                           d > static_cast<double>(spec.max))) {
      Add(at, "range", ": must be between " + std::to_string(spec.min) +
                           " and " + std::to_string(spec.max) + ".");
    }
  }

  void List(const FieldSpec& spec, const json& v, const Loc& at) {
    if (!v.is_array()) {
      Add(at, "type", ": must be a list.");
      return;
    }
    if (v.size() > internal::kMaxListItems) {
      Add(at, "range", ": too many entries (at most " +
                           std::to_string(internal::kMaxListItems) + ").");
      return;
    }
    for (size_t i = 0; i < v.size(); ++i) {
      const Loc item = Loc::Item(at, i);
      switch (spec.type) {
        case FieldType::kEnumList:
          EnumValue(spec, v[i], item);
          break;
        case FieldType::kStringList:
          Str(v[i], internal::kMaxStringBytes, item);
          break;
        default:
          Object(spec.children, spec.children_by_name, v[i], item);
          break;
      }
    }
  }

  void Value(const FieldSpec& spec, const json& v, const Loc& at) {
    switch (spec.type) {
      case FieldType::kText:
        Str(v, internal::kMaxTextBytes, at);
        break;
      case FieldType::kString:
        Str(v, internal::kMaxStringBytes, at);
        break;
      case FieldType::kEnum:
        EnumValue(spec, v, at);
        break;
      case FieldType::kDate:
        if (!v.is_string() ||
            !ParseDateDays(v.get_ref<const std::string&>()).ok()) {
          Add(at, "type", ": must be a real date written YYYY-MM-DD.");
        }
        break;
      case FieldType::kDateTime:
        if (!v.is_string() ||
            !ParseDateTimeMs(v.get_ref<const std::string&>()).ok()) {
          Add(at, "type",
              ": must be a date and time with its offset, e.g. "
              "2025-11-03T14:05:00+00:00.");
        }
        break;
      case FieldType::kBool:
        if (!v.is_boolean())
          Add(at, "type", ": must be yes or no (true or false).");
        break;
      case FieldType::kInt:
      case FieldType::kNumber:
      case FieldType::kPercent:
        Numeric(spec, v, at);
        break;
      case FieldType::kObject:
        Object(spec.children, spec.children_by_name, v, at);
        break;
      case FieldType::kEnumList:
      case FieldType::kStringList:
      case FieldType::kPeople:
      case FieldType::kActions:
      case FieldType::kObjectList:
        List(spec, v, at);
        break;
    }
  }

  ValidationResult* out_;
};

}  // namespace

namespace internal {

void AddProblem(ValidationResult* out, std::string path, std::string code,
                std::string message) {
  if (out->problems.size() + 1 < kMaxProblems) {
    out->problems.push_back(
        {std::move(path), std::move(code), std::move(message)});
  } else if (out->problems.size() + 1 == kMaxProblems) {
    out->problems.push_back({"", "range",
                             "Too many problems; only the first " +
                                 std::to_string(kMaxProblems - 1) +
                                 " are listed."});
  }
}

bool IsBlankValue(const json& v) {
  if (v.is_null()) return true;
  if (v.is_array()) return v.empty();
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
  });
}

}  // namespace internal

ValidationResult Validate(const RecordSchema& schema, const json& fields,
                          std::string_view status,
                          const ValidationContext& ctx) noexcept {
  ValidationResult out;
  try {
    if (status != "draft" && status != "final") {
      AddProblem(&out, "status", "range", "Status: must be draft or final.");
    }
    if (!fields.is_object()) {
      AddProblem(&out, "", "type",
                 "The record's fields must be a group of named fields "
                 "(a JSON object).");
      return out;
    }
    Checker(&out).Object(schema.fields(), schema.fields_by_name(), fields,
                         Loc());
    if (schema.rules() != nullptr) schema.rules()(fields, status, ctx, &out);
    std::sort(out.flags.begin(), out.flags.end());
    out.flags.erase(std::unique(out.flags.begin(), out.flags.end()),
                    out.flags.end());
  } catch (...) {
    // Not expected (all access is checked); bad_alloc is the realistic case.
    out.problems.push_back({"", "type", "The record could not be checked."});
  }
  return out;
}

json ProblemsToJson(const std::vector<Problem>& problems) {
  json arr = json::array();
  for (const Problem& p : problems) {
    arr.push_back({{"path", p.path}, {"code", p.code}, {"message", p.message}});
  }
  return arr;
}

}  // namespace doorstep::core
