// Two real `doorstep server run` processes on one PostgreSQL database
// (issue 7): devices behind one proxy sync through either server in turn and
// converge; the audit chain verifies; the wrong-enrolment-code limit (5 a
// minute per address) holds across the two processes. Gated like the other
// PostgreSQL tests (pg_e2e_util.h).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/crypto.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/sync/client.h"
#include "e2e_util.h"
#include "fault_proxy.h"
#include "pg_e2e_util.h"
#include "server_run.h"

namespace doorstep::e2e {
namespace {

using json = nlohmann::json;

struct Device {
  SecretBytes key;
  std::unique_ptr<core::Store> store;
};

class PgTwoServersTest : public PgSchemaTest {};

TEST_F(PgTwoServersTest, DevicesSyncThroughEitherProcessAndConverge) {
  ASSERT_TRUE(Initialize().ok());
  TempDir tmp;
  const std::string dir = tmp.path() + "/server";
  RunResult init = RunDoorstep({"server", "init", "--dir", dir, "--postgres", conninfo_, "--json"}, {});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  json ij = json::parse(init.out, nullptr, false);
  ASSERT_TRUE(ij.is_object() && ij.contains("public_key")) << init.out;
  const std::string server_key = ij["public_key"].get<std::string>();
  constexpr int kDevices = 3;
  std::vector<std::string> codes;
  for (int i = 0; i < kDevices; ++i) {
    RunResult e = RunDoorstep({"server", "enroll", "--dir", dir, "--practitioner", "worker-1", "--role",
                               "social_worker", "--json"},
                              {});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    codes.push_back(json::parse(e.out, nullptr, false).value("code", ""));
  }
  ASSERT_EQ(RunDoorstep({"server", "assign", "--dir", dir, "--practitioner", "worker-1", "--subject", "S-1"}, {})
                .exit_code,
            0);

  ServerRun a, b;
  ASSERT_TRUE(a.Start(dir, tmp.path() + "/a.out"));
  ASSERT_TRUE(b.Start(dir, tmp.path() + "/b.out"));
  const uint16_t ports[2] = {a.Port(), b.Port()};
  ASSERT_NE(ports[0], 0) << ReadFile(tmp.path() + "/a.out");
  ASSERT_NE(ports[1], 0) << ReadFile(tmp.path() + "/b.out");
  auto proxy = cli::FaultProxy::Start(ports[0]);
  ASSERT_TRUE(proxy.ok());
  const std::string address = "127.0.0.1:" + std::to_string((*proxy)->port());

  Env env = RealEnv();
  std::vector<Device> devices(kDevices);
  for (int i = 0; i < kDevices; ++i) {
    Device& d = devices[static_cast<size_t>(i)];
    d.key = core::RandomKey(*env.random);
    auto s = core::Store::Create(tmp.path() + "/device-" + std::to_string(i) + ".db",
                                 core::KeySource{nullptr, &d.key}, {}, env);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    d.store = std::move(s).value();
    (*proxy)->SetTarget(ports[i % 2]);
    Status st = sync::Enroll(*d.store, env, address, server_key, codes[static_cast<size_t>(i)]);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Each round every device writes a record and syncs, through server
  // (round + device) % 2: the two processes alternate under every device.
  std::set<std::string> written;
  constexpr int kRounds = 8;
  sync::SyncOptions so;
  so.timeout_ms = 15000;
  for (int round = 0; round < kRounds + 2; ++round) {
    for (int i = 0; i < kDevices; ++i) {
      Device& d = devices[static_cast<size_t>(i)];
      if (round < kRounds) {
        auto w = d.store->Add("visit_note", "S-1", core::SampleFields("visit_note", env.clock->NowMillis()), "draft");
        ASSERT_TRUE(w.ok() && w->saved()) << (w.ok() ? "refused" : w.status().ToString());
        written.insert(w->record.id);
      }
      (*proxy)->SetTarget(ports[(round + i) % 2]);
      auto r = sync::RunSync(*d.store, env, so);
      ASSERT_TRUE(r.ok()) << "round " << round << " device " << i << ": " << r.status().ToString();
      (*proxy)->WaitIdle(5000);
    }
  }
  for (int i = 0; i < kDevices; ++i) {
    auto list = devices[static_cast<size_t>(i)].store->List(core::ListFilter{"S-1", std::nullopt});
    ASSERT_TRUE(list.ok());
    std::set<std::string> have;
    for (const auto& r : *list) have.insert(r.id);
    EXPECT_EQ(have, written) << "device " << i;
  }
  EXPECT_EQ(written.size(), static_cast<size_t>(kDevices * kRounds));

  // Wrong codes from one address, alternately through each process: five
  // are looked at and refused, the sixth is rate limited whichever process
  // gets it, and so is the next one through the other.
  for (int i = 0; i < 7; ++i) {
    SecretBytes key = core::RandomKey(*env.random);
    auto s = core::Store::Create(tmp.path() + "/stranger-" + std::to_string(i) + ".db",
                                 core::KeySource{nullptr, &key}, {}, env);
    ASSERT_TRUE(s.ok());
    (*proxy)->SetTarget(ports[i % 2]);
    Status st = sync::Enroll(**s, env, address, server_key, "AAAA-BBBB-CCCC-DDDD");
    (*proxy)->WaitIdle(5000);
    if (i < 5) {
      EXPECT_NE(st.message().find("enrolment refused"), std::string::npos) << i << ": " << st.ToString();
    } else {
      EXPECT_NE(st.message().find("rate limited"), std::string::npos) << i << ": " << st.ToString();
    }
  }

  proxy->reset();
  EXPECT_EQ(a.Stop(), 0);
  EXPECT_EQ(b.Stop(), 0);
  RunResult audit = RunDoorstep({"server", "audit", "--dir", dir, "--verify"}, {});
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
}

}  // namespace
}  // namespace doorstep::e2e
