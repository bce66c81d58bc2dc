#include "record_print.h"

#include <cstdio>
#include <sstream>
#include <string>

#include "device_common.h"

namespace doorstep::cli {
namespace {

// Replaces control characters (terminal escapes) by '?'; keeps tabs.
std::string Clean(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) c = '?';
  }
  return out;
}

std::string ScalarText(const nlohmann::json& v) {
  if (v.is_string()) return Clean(v.get_ref<const std::string&>());
  if (v.is_null()) return "-";
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool AllScalars(const nlohmann::json& a) {
  for (const auto& e : a) {
    if (e.is_structured()) return false;
    if (e.is_string() && e.get_ref<const std::string&>().find('\n') != std::string::npos) {
      return false;
    }
  }
  return true;
}

void Line(const std::string& s) { std::printf("%s\n", s.c_str()); }

// Prints `key: value`; the first line starts with `first`, later lines with
// `indent` (plus nesting).
void PrintEntry(const std::string& first, const std::string& indent, const std::string& key,
                const nlohmann::json& v) {
  const std::string head = first + Clean(key) + ":";
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.find('\n') == std::string::npos) {
      Line(head + " " + Clean(s));
      return;
    }
    Line(head);
    std::istringstream lines(s);
    for (std::string l; std::getline(lines, l);) Line(indent + "  " + Clean(l));
  } else if (v.is_object()) {
    if (v.empty()) {
      Line(head + " {}");
      return;
    }
    Line(head);
    for (auto it = v.begin(); it != v.end(); ++it) {
      PrintEntry(indent + "  ", indent + "  ", it.key(), it.value());
    }
  } else if (v.is_array()) {
    if (v.empty()) {
      Line(head + " (none)");
      return;
    }
    if (AllScalars(v)) {
      std::string joined;
      for (const auto& e : v) joined += (joined.empty() ? "" : ", ") + ScalarText(e);
      Line(head + " " + joined);
      return;
    }
    Line(head);
    for (const auto& e : v) {
      if (!e.is_object() || e.empty()) {
        Line(indent + "  - " + ScalarText(e));
        continue;
      }
      bool lead = true;
      for (auto it = e.begin(); it != e.end(); ++it) {
        PrintEntry(lead ? indent + "  - " : indent + "    ", indent + "    ", it.key(), it.value());
        lead = false;
      }
    }
  } else {
    Line(head + " " + ScalarText(v));
  }
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + Clean(s);
  return out.empty() ? "-" : out;
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : Clean(s); }

}  // namespace

void PrintFields(const nlohmann::json& fields, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (!fields.is_object()) {
    Line(pad + ScalarText(fields));
    return;
  }
  for (auto it = fields.begin(); it != fields.end(); ++it) PrintEntry(pad, pad, it.key(), it.value());
}

void PrintRecord(const core::Record& r) {
  std::printf("id:          %s\n", r.id.c_str());
  std::printf("type:        %s\n", Clean(r.type).c_str());
  std::printf("subject:     %s\n", Clean(r.subject_id).c_str());
  std::printf("status:      %s\n", Clean(r.status).c_str());
  std::printf("revision:    %lld (base %lld), local version %lld\n", static_cast<long long>(r.rev),
              static_cast<long long>(r.base_rev), static_cast<long long>(r.local_version));
  if (r.amends) std::printf("amends:      revision %lld\n", static_cast<long long>(*r.amends));
  std::printf("flags:       %s\n", Join(r.flags).c_str());
  std::printf("author:      %s\n", OrDash(r.author_id).c_str());
  std::printf("device:      %s\n", OrDash(r.device_id).c_str());
  std::printf("created:     %s\n", FormatTime(r.created_at).c_str());
  std::printf("updated:     %s\n", FormatTime(r.updated_at).c_str());
  if (r.server_received_at != 0) {
    std::printf("received:    %s\n", FormatTime(r.server_received_at).c_str());
  }
  std::printf("hlc:         %s\n", OrDash(r.hlc).c_str());
  std::printf("schema:      %d\n", r.schema_version);
  if (r.deleted) std::printf("deleted:     yes\n");
  std::printf("fields:\n");
  PrintFields(r.fields, 2);
}

void PrintRecordList(const std::vector<core::Record>& records) {
  if (records.empty()) {
    Line("(no records)");
    return;
  }
  std::printf("%-32s  %-21s  %-16s  %-6s  %4s  %-20s  %s\n", "ID", "TYPE", "SUBJECT", "STATUS",
              "REV", "UPDATED", "FLAGS");
  for (const core::Record& r : records) {
    std::printf("%-32s  %-21s  %-16s  %-6s  %4lld  %-20s  %s\n", r.id.c_str(),
                Clean(r.type).c_str(), Clean(r.subject_id).c_str(), Clean(r.status).c_str(),
                static_cast<long long>(r.rev), FormatTime(r.updated_at).c_str(),
                Join(r.flags).c_str());
  }
}

void PrintHistory(const std::vector<core::HistoryEntry>& entries) {
  bool first = true;
  for (const core::HistoryEntry& e : entries) {
    if (!first) Line("");
    first = false;
    std::printf("version %lld  rev %lld  %s  %s  by %s on %s  (%s)  hlc %s\n",
                static_cast<long long>(e.local_version), static_cast<long long>(e.rev),
                Clean(e.status).c_str(), FormatTime(e.updated_at).c_str(),
                OrDash(e.author_id).c_str(), OrDash(e.device_id).c_str(), Clean(e.origin).c_str(),
                OrDash(e.hlc).c_str());
    PrintFields(e.fields, 2);
  }
}

void PrintStatus(const std::string& store_path, const core::StoreStatus& s) {
  std::printf("store:            %s\n", store_path.c_str());
  std::printf("device:           %s\n", OrDash(s.device_id).c_str());
  std::printf("records:          %lld\n", static_cast<long long>(s.records));
  std::printf("pending changes:  %lld\n", static_cast<long long>(s.pending));
  std::printf("rejected:         %lld\n", static_cast<long long>(s.rejected));
  for (const nlohmann::json& d : s.rejected_details) {
    auto text = [&d](const char* k) {
      auto it = d.find(k);
      return it != d.end() && it->is_string() ? Clean(it->get<std::string>()) : std::string("-");
    };
    std::printf("  record %s (change %s): %s\n", text("record_id").c_str(),
                text("mutation_id").c_str(), text("reason").c_str());
  }
  std::printf("open conflicts:   %lld\n", static_cast<long long>(s.open_conflicts));
  std::printf("last sync:        %s\n",
              s.last_sync_at == 0 ? "never" : FormatTime(s.last_sync_at).c_str());
  if (s.enrollment) {
    std::printf("enrolment:        practitioner %s (%s) with server %s\n",
                Clean(s.enrollment->practitioner_id).c_str(), Clean(s.enrollment->role).c_str(),
                Clean(s.enrollment->server).c_str());
  } else {
    std::printf("enrolment:        not enrolled\n");
  }
}

}  // namespace doorstep::cli
