// Shared fixture for the server tests: a fresh server dir with a SQLite
// ServerStore (or, in ServerFixtureP's PostgreSQL cases, a fresh schema in
// the test cluster: pg_test_util.h), a ServerCore on a FakeClock, and helpers
// to make devices and mutations. Synthetic data only.
#ifndef DOORSTEP_TESTS_SYNC_SERVER_FIXTURE_H_
#define DOORSTEP_TESTS_SYNC_SERVER_FIXTURE_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "doorstep/core/crypto.h"
#include "doorstep/core/hlc.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/secret.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/pg_server_store.h"
#include "doorstep/sync/server_store.h"
#include "pg_test_util.h"

namespace doorstep::sync::testing {

inline std::string MakeTempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ds_server_XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  return p ? std::string(p) : std::string();
}

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    env_ = Env{&clock_, &random_, &logger_};
    key_ = core::RandomKey(random_);
    if (backend() == Backend::kPostgres) {
      std::string base = PgConninfo();
      if (base.empty()) {
        if (PgRequired()) FAIL() << "DOORSTEP_PG=on but DOORSTEP_PG_CONNINFO is not set";
        GTEST_SKIP() << "PostgreSQL tests off (DOORSTEP_PG_TESTS=OFF / no DOORSTEP_PG_CONNINFO)";
      }
      schema_ = UniqueSchema();
      std::string err = PgExec(base, "CREATE SCHEMA " + schema_);
      ASSERT_EQ(err, "") << "cannot reach the PostgreSQL test cluster";
      conninfo_ = WithSchema(base, schema_);
    }
    auto store = Open(key_.Clone(), /*create=*/true);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(store_.get(), env_);
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (!schema_.empty()) (void)PgExec(PgConninfo(), "DROP SCHEMA " + schema_ + " CASCADE");
  }

  virtual Backend backend() const { return Backend::kSqlite; }
  // Opens (or creates) this test's store with `key`.
  Result<std::unique_ptr<ServerStore>> Open(SecretBytes key, bool create) {
    if (backend() == Backend::kPostgres) return OpenPgServerStore(conninfo_, std::move(key), env_, create);
    return OpenSqliteServerStore(dir_, std::move(key), env_, create);
  }

  // Enrols a device for `practitioner` with `role`; returns its context.
  SessionContext Device(const std::string& practitioner, const std::string& role) {
    auto code = core_->Enroll(practitioner, role);
    EXPECT_TRUE(code.ok()) << code.status().ToString();
    std::string device_id = RandomHex();
    std::string pub(32, '\0');
    random_.Fill(pub.data(), pub.size());
    auto d = core_->RedeemCode(code->code, device_id, pub, "127.0.0.1");
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    keys_[device_id] = pub;
    return SessionContext{device_id, practitioner, role};
  }

  std::string RandomHex() {
    std::string b(16, '\0');
    random_.Fill(b.data(), b.size());
    return core::ToHex(b);
  }

  std::string Hlc(const SessionContext& who, int64_t at = 0) {
    return core::HlcStamp{at ? at : clock_.NowMillis(), counter_++, who.device_id}.Encode();
  }

  // A put mutation creating record `record_id` with `fields` (all new).
  Mutation Create(const SessionContext& who, const std::string& record_id, const std::string& type,
                  const std::string& subject, const nlohmann::json& fields,
                  const std::string& status = "draft") {
    Mutation m = Base(who, record_id, type, subject, 0);
    for (const auto& [k, v] : fields.items()) m.changes[k] = FieldChange{nullptr, v};
    m.status = status;
    return m;
  }

  // A put mutation changing `field` from `from` to `to` against `base_rev`.
  Mutation Edit(const SessionContext& who, const std::string& record_id, const std::string& type,
                const std::string& subject, int64_t base_rev, const std::string& field,
                const nlohmann::json& from, const nlohmann::json& to) {
    Mutation m = Base(who, record_id, type, subject, base_rev);
    m.changes[field] = FieldChange{from, to};
    return m;
  }

  Mutation Base(const SessionContext& who, const std::string& record_id, const std::string& type,
                const std::string& subject, int64_t base_rev) {
    Mutation m;
    m.mutation_id = RandomHex();
    m.record_id = record_id;
    m.type = type;
    m.subject_id = subject;
    m.base_rev = base_rev;
    m.hlc = Hlc(who);
    m.created_at = clock_.NowMillis();
    m.updated_at = clock_.NowMillis();
    m.author_id = who.practitioner_id;
    m.device_id = who.device_id;
    return m;
  }

  nlohmann::json Sample(const std::string& type) { return core::SampleFields(type, clock_.NowMillis()); }

  MutationResult PushOne(const SessionContext& who, const Mutation& m) {
    auto r = core_->ApplyPush(who, Push{{m}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->r.size() != 1) return MutationResult{};
    return r->r[0];
  }

  // A batch as a device receives it (raw records decoded through the wire).
  static Batch Wire(const Batch& b) {
    auto d = DecodeAs<Batch>(Encode(b));
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : Batch{};
  }

  // Pulls everything after `since` in batches of `max`; returns all batches.
  std::vector<Batch> PullAll(const SessionContext& who, uint64_t since, size_t max = 0) {
    std::vector<Batch> out;
    PullCursor cursor;
    for (int i = 0; i < 1000; ++i) {
      auto b = core_->Pull(who, &cursor, since, max);
      EXPECT_TRUE(b.ok()) << b.status().ToString();
      if (!b.ok()) break;
      since = b->checkpoint;
      bool more = b->more;
      out.push_back(Wire(*b));
      if (!more) break;
    }
    return out;
  }

  FakeClock clock_;
  SeededRandom random_{42};
  NullLogger logger_;
  Env env_;
  std::string dir_;
  std::string schema_, conninfo_;  // PostgreSQL cases only
  SecretBytes key_;
  std::unique_ptr<ServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::map<std::string, std::string> keys_;
  uint32_t counter_ = 0;
};

// The fixture for tests that run on both backends: TEST_P, then
// DOORSTEP_BOTH_BACKENDS(Suite). Subclasses that extend SetUp return early
// when the base skipped (IsSkipped()).
class ServerFixtureP : public ServerFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  Backend backend() const override { return GetParam(); }
};

#define DOORSTEP_BOTH_BACKENDS(Suite)                                                          \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                   \
                           ::testing::Values(::doorstep::sync::testing::Backend::kSqlite,      \
                                             ::doorstep::sync::testing::Backend::kPostgres), \
                           ::doorstep::sync::testing::BackendName)

}  // namespace doorstep::sync::testing

#endif  // DOORSTEP_TESTS_SYNC_SERVER_FIXTURE_H_
