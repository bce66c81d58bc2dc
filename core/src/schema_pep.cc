// pep_update: a termly Personal Education Plan review.
#include <algorithm>
#include <cctype>

#include "schema_internal.h"

namespace doorstep::core {
namespace internal {
namespace {

const std::vector<std::string>& Terms() {
  static const std::vector<std::string>* const kValues =
      new std::vector<std::string>{"autumn", "spring", "summer"};
  return *kValues;
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

std::string Trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

// "Designated Teacher", "designated-teacher" and "designated_teacher" all
// name the role.
std::string NormaliseRole(std::string_view role) {
  std::string out;
  for (char c : Trim(role)) {
    if (c == ' ' || c == '-') c = '_';
    out.push_back(
        static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

enum class YearFormat { kOk, kMalformed, kNotConsecutive };

YearFormat CheckAcademicYear(std::string_view s) {
  if (s.size() != 7 || s[4] != '-' || !AllDigits(s.substr(0, 4)) ||
      !AllDigits(s.substr(5, 2))) {
    return YearFormat::kMalformed;
  }
  const int first = ToInt(s.substr(0, 4));
  return (first + 1) % 100 == ToInt(s.substr(5, 2))
             ? YearFormat::kOk
             : YearFormat::kNotConsecutive;
}

bool HasDesignatedTeacher(const nlohmann::json& attendees) {
  for (const nlohmann::json& p : attendees) {
    if (!p.is_object()) continue;
    auto role = p.find("role");
    if (role != p.end() && role->is_string() &&
        NormaliseRole(role->get_ref<const std::string&>()) ==
            "designated_teacher") {
      return true;
    }
  }
  return false;
}

// True when `ref` names a target in new_targets: its 1-based number ("1" is
// the first target) or its exact description (surrounding spaces ignored).
bool RefNamesTarget(const std::string& ref, const nlohmann::json* targets) {
  if (targets == nullptr || !targets->is_array()) return false;
  const std::string r = Trim(ref);
  if (AllDigits(r) && r.size() <= 6) {
    const int n = ToInt(r);
    if (n >= 1 && static_cast<size_t>(n) <= targets->size()) return true;
  }
  for (const nlohmann::json& t : *targets) {
    if (!t.is_object()) continue;
    auto d = t.find("description");
    if (d != t.end() && d->is_string() && !r.empty() &&
        Trim(d->get_ref<const std::string&>()) == r) {
      return true;
    }
  }
  return false;
}

void PepRules(const nlohmann::json& fields, std::string_view /*status*/,
              const ValidationContext& /*ctx*/, ValidationResult* out) {
  RuleContext r(fields, out);

  if (const auto year = r.GetString("academic_year")) {
    const YearFormat f = CheckAcademicYear(*year);
    if (f == YearFormat::kMalformed) {
      r.Add("academic_year", "type",
            "Academic year: must be written YYYY-YY, e.g. 2025-26.");
    } else if (f == YearFormat::kNotConsecutive) {
      r.Add(
          "academic_year", "range",
          "Academic year: the two years must follow each other, e.g. 2025-26.");
    }
  }
  if (const auto urn = r.GetString("school_urn")) {
    if (urn->size() != 6 || !AllDigits(*urn)) {
      r.Add(
          "school_urn", "type",
          "School URN: must be the school's 6-digit unique reference number.");
    }
  }
  const nlohmann::json* attendees = r.Get("attendees");
  if (attendees != nullptr && attendees->is_array() && !attendees->empty() &&
      !HasDesignatedTeacher(*attendees)) {
    r.Add("attendees", "rule",
          "Attendees: the designated teacher must be among the attendees (a "
          "person "
          "with role designated_teacher).");
  }
  if (r.GetBool("first_pep") != true) {
    r.Require("previous_targets",
              "unless this is the child's first PEP (first_pep)");
  }
  if (r.IsBlank("child_voice") && r.IsBlank("child_voice_missing_reason")) {
    r.Add("child_voice", "required",
          "Child voice: record the child's views, or say in child voice "
          "missing reason "
          "why they could not be gathered.");
  }
  // Checked only against a usable new_targets list; a missing one is its own
  // problem and would otherwise fail every reference.
  const nlohmann::json* ppp = r.Get("pupil_premium_plus");
  const nlohmann::json* targets = r.Get("new_targets");
  if (ppp != nullptr && ppp->is_array() && ppp->size() <= kMaxListItems &&
      targets != nullptr && targets->is_array() && !targets->empty()) {
    for (size_t i = 0; i < ppp->size(); ++i) {
      const nlohmann::json& e = (*ppp)[i];
      if (!e.is_object()) continue;
      auto ref = e.find("target_ref");
      if (ref == e.end() || !ref->is_string() || IsBlankValue(*ref)) continue;
      if (!RefNamesTarget(ref->get_ref<const std::string&>(), targets)) {
        r.Add("pupil_premium_plus[" + std::to_string(i) + "].target_ref",
              "rule",
              "Pupil premium plus entry " + std::to_string(i + 1) +
                  " > Target ref: must name one of the new targets, by its "
                  "number (1 for "
                  "the first) or its exact description.");
      }
    }
  }
  const std::optional<double> pct = r.GetNumber("attendance_pct");
  if (pct && *pct >= 0 && *pct < 90) r.Flag(kFlagPersistentAbsence);
}

}  // namespace

RecordSchema PepUpdateSchema() {
  std::vector<FieldSpec> f = {
      String("academic_year"),
      Enum("term", Terms()),
      Date("meeting_date"),
      People("attendees"),
      Labeled(String("school_urn"), "School URN"),
      Int("year_group", -1, 14),
      Labeled(Percent("attendance_pct"), "Attendance percentage"),
      Int("suspensions_days", 0, 1'000'000, Presence::kOptional),
      Labeled(Enum("sen_status", {"none", "sen_support", "ehcp"}),
              "SEN status"),
      ObjectList("attainment",
                 {String("subject"), String("current"), String("expected")}),
      Labeled(Bool("first_pep", Presence::kOptional), "First PEP"),
      When(ObjectList(
               "previous_targets",
               {Text("target"), Enum("outcome", {"met", "partly", "not_met"})}),
           "first_pep is not true"),
      ObjectList("new_targets",
                 {Text("description"), Text("measure"), String("who"),
                  Labeled(Date("by_when"), "By when")}),
      ObjectList("pupil_premium_plus",
                 {Labeled(Number("amount_gbp", 0, 1'000'000), "Amount (GBP)"),
                  Text("purpose"), Labeled(String("target_ref"), "Target ref")},
                 Presence::kOptional),
      When(Text("child_voice"), "child_voice_missing_reason is blank"),
      When(Text("child_voice_missing_reason"), "child_voice is blank"),
      Text("carer_contribution", Presence::kOptional),
  };
  return RecordSchema("pep_update", 1, std::move(f), &PepRules);
}

}  // namespace internal

std::optional<std::string> PepTermKey(const nlohmann::json& fields) {
  if (!fields.is_object()) return std::nullopt;
  auto year = fields.find("academic_year");
  auto term = fields.find("term");
  if (year == fields.end() || term == fields.end() || !year->is_string() ||
      !term->is_string()) {
    return std::nullopt;
  }
  const std::string& y = year->get_ref<const std::string&>();
  const std::string& t = term->get_ref<const std::string&>();
  const auto& terms = internal::Terms();
  if (internal::CheckAcademicYear(y) != internal::YearFormat::kOk ||
      std::find(terms.begin(), terms.end(), t) == terms.end()) {
    return std::nullopt;
  }
  return y + "/" + t;
}

}  // namespace doorstep::core
