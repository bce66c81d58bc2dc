// An in-process sync server for end-to-end tests: a SQLite ServerStore in a
// directory, a ServerCore and a SyncServer listening on 127.0.0.1 (port 0),
// plus device stores enrolled with it through the real Noise transport.
// Owned by one test; not thread-safe (the server's own threads are internal).
// Synthetic data only.
#ifndef DOORSTEP_TESTS_E2E_LIVE_SERVER_H_
#define DOORSTEP_TESTS_E2E_LIVE_SERVER_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "doorstep/core/crypto.h"
#include "doorstep/core/store.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"
#include "doorstep/sync/sync_server.h"

namespace doorstep::e2e {

class LiveServer {
 public:
  LiveServer() = default;
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;
  ~LiveServer() { Stop(); }

  // Creates the server store in `dir` and starts listening. Check with
  // ASSERT_NO_FATAL_FAILURE.
  void Start(const std::string& dir, Env env) {
    env_ = env;
    auto st = sync::OpenSqliteServerStore(dir, core::RandomKey(*env_.random), env_, true);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(st).value();
    core_ = std::make_unique<sync::ServerCore>(store_.get(), env_);
    sync::KeyPair keys = sync::GenerateKeyPair(*env_.random);
    key_hex_ = core::ToHex(keys.public_key);
    auto srv = sync::SyncServer::Start(core_.get(), std::move(keys), env_);
    ASSERT_TRUE(srv.ok()) << srv.status().ToString();
    server_ = std::move(srv).value();
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void Stop() {
    server_.reset();
    core_.reset();
    store_.reset();
  }

  // A new device store at `path` (under a random platform key), enrolled for
  // `practitioner` with `role` through `address` (this server's when empty;
  // the enrolment keeps it for later syncs, so a proxy's address sticks).
  // nullptr, with a test failure, if anything fails.
  std::unique_ptr<core::Store> NewDevice(const std::string& path, const std::string& practitioner,
                                         const std::string& role, const std::string& address = "") {
    SecretBytes key = core::RandomKey(*env_.random);
    auto store = core::Store::Create(path, core::KeySource{nullptr, &key}, {}, env_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    auto code = core_->Enroll(practitioner, role);
    EXPECT_TRUE(code.ok()) << code.status().ToString();
    if (!code.ok()) return nullptr;
    Status s = sync::Enroll(**store, env_, address.empty() ? address_ : address, key_hex_, code->code);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::move(store).value() : nullptr;
  }

  sync::ServerCore& core() { return *core_; }
  sync::ServerStore& store() { return *store_; }
  sync::SyncServer& server() { return *server_; }
  uint16_t port() const { return server_->port(); }
  const std::string& address() const { return address_; }
  const std::string& key_hex() const { return key_hex_; }

 private:
  Env env_;
  std::unique_ptr<sync::ServerStore> store_;
  std::unique_ptr<sync::ServerCore> core_;
  std::unique_ptr<sync::SyncServer> server_;
  std::string address_, key_hex_;
};

}  // namespace doorstep::e2e

#endif  // DOORSTEP_TESTS_E2E_LIVE_SERVER_H_
