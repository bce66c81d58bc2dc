// A server.db written before the (subject_id, seq) index on records existed
// (schema 1 as first released) opens with the current code: the index is
// built on open, and every record, mutation outcome and the audit chain are
// still there; pulls (which use the index) send the same records.
#include <gtest/gtest.h>

#include <set>

#include "doorstep/core/sqlite.h"
#include "server_fixture.h"

namespace doorstep::sync {
namespace {

class SqliteServerUpgradeTest : public testing::ServerFixture {};

TEST_F(SqliteServerUpgradeTest, FileWithoutTheSubjectSeqIndexOpensAndPullsTheSame) {
  SessionContext sw = Device("worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
  Push push;
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    std::string id = RandomHex();
    ids.insert(id);
    push.m.push_back(Create(sw, id, "visit_note", "S-1", Sample("visit_note")));
  }
  auto pushed = core_->ApplyPush(sw, push);
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  core_.reset();
  store_.reset();
  {
    // Back to the file as the first release left it.
    auto db = core::Database::Open(dir_ + "/server.db", core::Database::Mode::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("DROP INDEX records_subject_seq").ok());
  }
  auto store = Open(key_.Clone(), /*create=*/false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(store).value();
  core_ = std::make_unique<ServerCore>(store_.get(), env_);
  {
    auto db = core::Database::Open(dir_ + "/server.db", core::Database::Mode::kReadOnly);
    ASSERT_TRUE(db.ok());
    auto st = core::Statement::Prepare(
        **db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name = 'records_subject_seq'");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(*st->Step());
    EXPECT_EQ(st->ColumnInt(0), 1);
  }
  auto batches = PullAll(sw, 0);
  std::set<std::string> pulled;
  for (const auto& b : batches) for (const auto& r : b.records) pulled.insert(r.id);
  EXPECT_EQ(pulled, ids);
  // Replays answer from the stored outcomes; the audit chain verifies.
  auto again = core_->ApplyPush(sw, push);
  ASSERT_TRUE(again.ok());
  for (const MutationResult& r : again->r) EXPECT_EQ(r.rev, 1);
  auto verified = core_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
}

}  // namespace
}  // namespace doorstep::sync
