// RuleContext: checked, typed reads of top-level fields for the per-type rules.
#include <cmath>

#include "doorstep/core/timefmt.h"
#include "schema_internal.h"

namespace doorstep::core::internal {

const nlohmann::json* RuleContext::Get(std::string_view name) const {
  auto it = fields_.find(name);
  if (it == fields_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<bool> RuleContext::GetBool(std::string_view name) const {
  const nlohmann::json* v = Get(name);
  if (v == nullptr || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

std::optional<std::string> RuleContext::GetString(std::string_view name) const {
  const nlohmann::json* v = Get(name);
  if (v == nullptr || !v->is_string() || IsBlankValue(*v)) return std::nullopt;
  return v->get<std::string>();
}

std::optional<int64_t> RuleContext::GetDateTimeMs(std::string_view name) const {
  const nlohmann::json* v = Get(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  auto r = ParseDateTimeMs(v->get_ref<const std::string&>());
  if (!r.ok()) return std::nullopt;
  return *r;
}

std::optional<int64_t> RuleContext::GetDateDays(std::string_view name) const {
  const nlohmann::json* v = Get(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  auto r = ParseDateDays(v->get_ref<const std::string&>());
  if (!r.ok()) return std::nullopt;
  return *r;
}

std::optional<double> RuleContext::GetNumber(std::string_view name) const {
  const nlohmann::json* v = Get(name);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  const double d =
      v->is_number_unsigned()  ? static_cast<double>(v->get<uint64_t>())
      : v->is_number_integer() ? static_cast<double>(v->get<int64_t>())
                               : v->get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

bool RuleContext::IsBlank(std::string_view name) const {
  const nlohmann::json* v = Get(name);
  return v == nullptr || IsBlankValue(*v);
}

void RuleContext::Require(std::string_view name, std::string_view why) {
  if (!IsBlank(name)) return;
  Add(std::string(name), "required",
      LabelFromName(name) + ": this must be filled in " + std::string(why) +
          ".");
}

}  // namespace doorstep::core::internal
