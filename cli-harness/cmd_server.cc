// `doorstep server …`: the council's side (CLI.md). Each command opens the
// server dir itself, so admin commands work while `server run` serves the
// same dir (SQLite WAL; the server caches nothing they change).
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "commands.h"
#include "doorstep/core/crypto.h"
#include "doorstep/core/timefmt.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_dir.h"
#include "doorstep/sync/sync_server.h"

namespace doorstep::cli {
namespace {

using json = nlohmann::json;

struct ServerArgs {
  std::string dir;
  std::string postgres;
  std::string listen = "127.0.0.1:7443";
  std::string practitioner, role, subject, device;
  bool json = false;
  bool verify = false;
  bool all = false;
  std::string anchor;  // audit --anchor ID:HASH
};

std::string Time(int64_t ms) { return ms == 0 ? "-" : core::FormatDateTimeMs(ms); }

// Opens the store of --dir and runs `fn(core)`.
template <typename Fn>
int WithCore(const ServerArgs& a, Fn fn) {
  Env env = RealEnv();
  auto store = sync::OpenServerDir(a.dir, env);
  if (!store.ok()) return Fail(store.status());
  sync::ServerCore core(store->get(), env);
  return fn(core);
}

int Init(const ServerArgs& a) {
  auto keys = sync::InitServerDir(a.dir, RealEnv(), a.postgres);
  if (!keys.ok()) {
    if (keys.status().code() == StatusCode::kFailedPrecondition ||
        keys.status().code() == StatusCode::kInvalidArgument) {  // incl. a bad --postgres
      return Fail(kExitUsage, keys.status().message());
    }
    return Fail(keys.status());
  }
  std::string hex = core::ToHex(keys->public_key);
  if (a.json) {
    std::printf("%s\n", json({{"dir", a.dir}, {"public_key", hex}}).dump().c_str());
  } else {
    std::printf("%s\n", hex.c_str());
  }
  return kExitOk;
}

int Run(const ServerArgs& a) {
  size_t colon = a.listen.rfind(':');
  if (colon == std::string::npos) return Fail(kExitUsage, "--listen: expected HOST:PORT");
  std::string host = a.listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(a.listen.substr(colon + 1), &used);
    if (used != a.listen.size() - colon - 1 || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return Fail(kExitUsage, "--listen: bad port in " + a.listen);
  }
  Env env = RealEnv();
  auto store = sync::OpenServerDir(a.dir, env);
  if (!store.ok()) return Fail(store.status());
  auto keys = sync::ReadServerKeys(a.dir);
  if (!keys.ok()) return Fail(keys.status());
  sync::ServerCore core(store->get(), env);
  sync::SyncServerOptions opts;
  opts.host = host;
  opts.port = static_cast<uint16_t>(port);
  opts.threads = 2;
  opts.stop_on_signals = true;
  auto server = sync::SyncServer::Start(&core, std::move(keys).value(), env, opts);
  if (!server.ok()) {
    Status s = server.status();
    return Fail(s.code() == StatusCode::kInvalidArgument ? kExitUsage : ExitCodeFor(s),
                "--listen " + a.listen + ": " + s.message());
  }
  std::printf("listening on %s:%u\n", host.c_str(), static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  (*server)->Wait();
  server->reset();
  std::printf("stopped\n");
  return kExitOk;
}

int Enroll(const ServerArgs& a) {
  return WithCore(a, [&](sync::ServerCore& core) {
    auto code = core.Enroll(a.practitioner, a.role);
    if (!code.ok()) return Fail(code.status().code() == StatusCode::kInvalidArgument ? kExitUsage
                                                                                      : ExitCodeFor(code.status()),
                                code.status().message());
    if (a.json) {
      std::printf("%s\n", json({{"code", code->code}, {"practitioner", a.practitioner},
                                {"role", a.role}, {"expires_at", code->expires_at}})
                              .dump()
                              .c_str());
    } else {
      std::printf("%s\n", code->code.c_str());
    }
    return int{kExitOk};
  });
}

int Assign(const ServerArgs& a, bool assign) {
  return WithCore(a, [&](sync::ServerCore& core) {
    Status s = assign ? core.Assign(a.practitioner, a.subject) : core.Unassign(a.practitioner, a.subject);
    if (s.code() == StatusCode::kFailedPrecondition) {
      if (assign) {  // assigning twice is harmless
        std::printf("%s is already on %s's caseload\n", a.subject.c_str(), a.practitioner.c_str());
        return int{kExitOk};
      }
      return Fail(kExitNotFound, a.subject + " is not on " + a.practitioner + "'s caseload");
    }
    if (s.code() == StatusCode::kInvalidArgument) return Fail(kExitUsage, s.message());
    if (!s.ok()) return Fail(s);
    std::printf(assign ? "assigned %s to %s\n" : "unassigned %s from %s\n", a.subject.c_str(),
                a.practitioner.c_str());
    return int{kExitOk};
  });
}

int Revoke(const ServerArgs& a) {
  return WithCore(a, [&](sync::ServerCore& core) {
    Status s = core.Revoke(a.device);
    if (s.code() == StatusCode::kNotFound) return Fail(kExitNotFound, "no device " + a.device);
    if (!s.ok()) return Fail(s);
    std::printf("revoked %s\n", a.device.c_str());
    return int{kExitOk};
  });
}

int Devices(const ServerArgs& a) {
  return WithCore(a, [&](sync::ServerCore& core) {
    auto ds = core.Devices();
    if (!ds.ok()) return Fail(ds.status());
    if (a.json) {
      json arr = json::array();
      for (const auto& d : *ds) {
        arr.push_back({{"device_id", d.device_id}, {"practitioner", d.practitioner_id},
                       {"role", d.role}, {"public_key", core::ToHex(d.public_key)},
                       {"enrolled_at", d.enrolled_at}, {"revoked", d.revoked()},
                       {"revoked_at", d.revoked() ? json(d.revoked_at) : json(nullptr)},
                       {"last_seen_at", d.last_seen_at ? json(d.last_seen_at) : json(nullptr)}});
      }
      std::printf("%s\n", arr.dump().c_str());
      return int{kExitOk};
    }
    if (ds->empty()) std::printf("no devices\n");
    for (const auto& d : *ds) {
      std::printf("%s  %-16s %-16s enrolled %s  %s  last seen %s\n", d.device_id.c_str(),
                  d.practitioner_id.c_str(), d.role.c_str(), Time(d.enrolled_at).c_str(),
                  d.revoked() ? ("REVOKED " + Time(d.revoked_at)).c_str() : "active",
                  Time(d.last_seen_at).c_str());
    }
    return int{kExitOk};
  });
}

int Conflicts(const ServerArgs& a) {
  return WithCore(a, [&](sync::ServerCore& core) {
    auto cs = core.Conflicts(!a.all);
    if (!cs.ok()) return Fail(cs.status());
    // Ids, paths, authors and times only: values are case content and stay
    // on the practitioners' devices (`doorstep device conflicts`).
    if (a.json) {
      json arr = json::array();
      for (const auto& c : *cs) {
        const auto& i = c.info;
        arr.push_back({{"conflict_id", i.conflict_id}, {"record_id", i.record_id},
                       {"subject_id", i.subject_id}, {"type", i.type}, {"path", i.path},
                       {"state", i.state == sync::ConflictState::kOpen ? "open" : "resolved"},
                       {"server_author", i.server_author}, {"device_author", i.device_author},
                       {"server_time", i.server_time}, {"device_time", i.device_time},
                       {"base_rev", i.base_rev}, {"opened_at", c.opened_at},
                       {"resolved_at", c.resolved_at ? json(c.resolved_at) : json(nullptr)},
                       {"resolved_by", c.resolved_by.empty() ? json(nullptr) : json(c.resolved_by)}});
      }
      std::printf("%s\n", arr.dump().c_str());
      return int{kExitOk};
    }
    if (cs->empty()) std::printf(a.all ? "no conflicts\n" : "no open conflicts\n");
    for (const auto& c : *cs) {
      const auto& i = c.info;
      std::printf("%s  %s %s %s.%s  %s vs %s  opened %s%s\n", i.conflict_id.c_str(),
                  i.state == sync::ConflictState::kOpen ? "open    " : "resolved",
                  i.subject_id.c_str(), i.record_id.c_str(), i.path.c_str(), i.server_author.c_str(),
                  i.device_author.c_str(), Time(c.opened_at).c_str(),
                  c.resolved_at ? ("  resolved by " + c.resolved_by).c_str() : "");
    }
    return int{kExitOk};
  });
}

// --anchor ID:HASH: an audit entry recorded elsewhere (from an earlier
// `server audit --verify --json`'s last_id and last_hash).
Result<sync::AuditHead> ParseAnchor(const std::string& text) {
  const std::string usage = "--anchor must be ID:HASH (an entry number from 1 and its 64 hex digit hash, as "
                            "`server audit --verify --json` prints them), not \"" + text + "\"";
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 19) return InvalidArgumentError(usage);
  sync::AuditHead h;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9') return InvalidArgumentError(usage);
    h.id = h.id * 10 + static_cast<uint64_t>(c - '0');
  }
  h.hash = text.substr(colon + 1);
  if (h.id == 0 || h.hash.size() != 64 ||
      h.hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return InvalidArgumentError(usage);
  }
  return h;
}

int Audit(const ServerArgs& a) {
  std::optional<sync::AuditHead> anchor;
  if (!a.anchor.empty()) {
    auto parsed = ParseAnchor(a.anchor);
    if (!parsed.ok()) return Fail(kExitUsage, parsed.status().message());
    anchor = *parsed;
  }
  return WithCore(a, [&](sync::ServerCore& core) {
    if (a.verify || anchor) {
      auto head = core.VerifyAuditAgainst(anchor);
      if (!head.ok()) {
        if (a.json) std::printf("%s\n", json({{"ok", false}, {"error", head.status().message()}}).dump().c_str());
        return Fail(kExitIntegrity, "audit chain broken: " + head.status().message());
      }
      if (a.json) {
        json out = {{"ok", true}, {"entries", head->id}, {"last_id", head->id}, {"last_hash", head->hash}};
        if (anchor) out["anchor_id"] = anchor->id;
        std::printf("%s\n", out.dump().c_str());
      } else {
        std::printf("audit chain ok: %llu entries, last %llu:%s\n", static_cast<unsigned long long>(head->id),
                    static_cast<unsigned long long>(head->id), head->hash.c_str());
        if (anchor) {
          std::printf("anchor %llu found with its hash\n", static_cast<unsigned long long>(anchor->id));
        }
      }
      return int{kExitOk};
    }
    auto entries = core.Audit();
    if (!entries.ok()) return Fail(entries.status());
    if (a.json) {
      json arr = json::array();
      for (const auto& e : *entries) {
        arr.push_back({{"id", e.id}, {"at", e.at}, {"actor", e.actor}, {"action", e.action},
                       {"details", e.details}, {"prev_hash", e.prev_hash}, {"hash", e.hash}});
      }
      std::printf("%s\n", arr.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
      return int{kExitOk};
    }
    for (const auto& e : *entries) {
      std::printf("%llu %s %s %s %s\n", static_cast<unsigned long long>(e.id), Time(e.at).c_str(),
                  e.actor.c_str(), e.action.c_str(),
                  e.details.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    }
    return int{kExitOk};
  });
}

}  // namespace

void RegisterServerCommands(CLI::App& app, int* exit_code) {
  auto* server = app.add_subcommand("server", "The council's sync server and its administration");
  server->require_subcommand(1);
  auto a = std::make_shared<ServerArgs>();
  auto dir = [&a](CLI::App* c) { c->add_option("--dir", a->dir, "Server directory")->required(); };
  auto json_flag = [&a](CLI::App* c) { c->add_flag("--json", a->json, "Print one JSON document"); };

  auto* init = server->add_subcommand("init", "Creates the store and the server's static key pair; prints the public key (hex)");
  dir(init);
  init->add_option("--postgres", a->postgres, "keep the data in PostgreSQL (libpq conninfo); DIR keeps the keys and server.conf");
  json_flag(init);
  init->callback([a, exit_code] { *exit_code = Init(*a); });

  auto* run = server->add_subcommand("run", "Serves devices in the foreground; stops cleanly on SIGINT/SIGTERM");
  dir(run);
  run->add_option("--listen", a->listen, "HOST:PORT to listen on (port 0: any free port)")->required();
  run->callback([a, exit_code] { *exit_code = Run(*a); });

  auto* enroll = server->add_subcommand("enroll", "Prints a one-time enrolment code (valid 24 h)");
  dir(enroll);
  enroll->add_option("--practitioner", a->practitioner, "Practitioner id")->required();
  enroll->add_option("--role", a->role, "social_worker, personal_adviser, virtual_school or manager")->required();
  json_flag(enroll);
  enroll->callback([a, exit_code] { *exit_code = Enroll(*a); });

  for (bool assign : {true, false}) {
    auto* c = server->add_subcommand(assign ? "assign" : "unassign",
                                     assign ? "Puts a subject on a practitioner's caseload"
                                            : "Takes a subject off a practitioner's caseload");
    dir(c);
    c->add_option("--practitioner", a->practitioner, "Practitioner id")->required();
    c->add_option("--subject", a->subject, "Subject (case) id")->required();
    c->callback([a, exit_code, assign] { *exit_code = Assign(*a, assign); });
  }

  auto* revoke = server->add_subcommand("revoke", "Revokes a device: refused at its next sync, which wipes it");
  dir(revoke);
  revoke->add_option("--device", a->device, "Device id")->required();
  revoke->callback([a, exit_code] { *exit_code = Revoke(*a); });

  auto* devices = server->add_subcommand("devices", "Lists enrolled devices");
  dir(devices);
  json_flag(devices);
  devices->callback([a, exit_code] { *exit_code = Devices(*a); });

  auto* conflicts = server->add_subcommand("conflicts", "Lists open conflicts (ids, fields, authors; no values)");
  dir(conflicts);
  json_flag(conflicts);
  conflicts->add_flag("--all", a->all, "Include resolved conflicts");
  conflicts->callback([a, exit_code] { *exit_code = Conflicts(*a); });

  auto* audit = server->add_subcommand("audit", "Exports the audit log, or checks its hash chain");
  dir(audit);
  audit->add_flag("--verify", a->verify,
                  "Check the hash chain and print its last entry as ID:HASH (keep it elsewhere as an anchor); "
                  "exit 8 if broken");
  audit->add_option("--anchor", a->anchor,
                    "ID:HASH of an entry recorded earlier (implies --verify): exit 8 unless the log still holds "
                    "that entry with that hash, so entries dropped from the end are caught");
  json_flag(audit);
  audit->callback([a, exit_code] { *exit_code = Audit(*a); });
}

}  // namespace doorstep::cli
