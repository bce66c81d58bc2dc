// The ServerStore on both backends (SQLite, PostgreSQL): CRUD, transactions, sealing at rest, audit chain.
#include <sqlite3.h>

#include <fstream>
#include <iterator>

#include "server_fixture.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;
using testing::ServerFixture;
using testing::ServerFixtureP;

class ServerStoreTest : public ServerFixtureP {
 protected:
  StoredRecord Rec(const std::string& id, int64_t rev, uint64_t seq, const json& fields) {
    StoredRecord r;
    r.record.id = id;
    r.record.type = "visit_note";
    r.record.subject_id = "S-1";
    r.record.rev = rev;
    r.record.author_id = "worker-1";
    r.record.device_id = std::string(32, 'd');
    r.record.fields = fields;
    r.seq = seq;
    r.mutation_id = std::string(32, 'm');
    return r;
  }
  // Runs `sql` (SQLite) or `pg_sql` (PostgreSQL) on the store through a
  // separate connection.
  void RawExec(const std::string& sql, const std::string& pg_sql) {
    if (backend() == testing::Backend::kPostgres) {
      EXPECT_EQ(testing::PgExec(conninfo_, pg_sql), "");
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/server.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
};

TEST_P(ServerStoreTest, RevisionsRoundTripAndKeepHistory) {
  std::string id(32, 'a');
  {
    auto txn = store_->Begin(TxnMode::kWrite);
    ASSERT_TRUE(txn.ok());
    auto seq = (*txn)->NextSeq();
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE((*txn)->PutRevision(Rec(id, 1, *seq, {{"purpose", "one"}})).ok());
    auto seq2 = (*txn)->NextSeq();
    ASSERT_TRUE((*txn)->PutRevision(Rec(id, 2, *seq2, {{"purpose", "two"}})).ok());
    EXPECT_EQ((*txn)->PutRevision(Rec(id, 4, 99, {})).code(), StatusCode::kConflict);
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto txn = store_->Begin(TxnMode::kRead);
  auto head = (*txn)->GetHead(id);
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((**head).record.rev, 2);
  EXPECT_EQ((**head).record.fields["purpose"], "two");
  auto r1 = (*txn)->GetRevision(id, 1);
  ASSERT_TRUE(r1.ok() && r1->has_value());
  EXPECT_EQ((**r1).record.fields["purpose"], "one");
  EXPECT_EQ(*(*txn)->MaxSeq(), 2u);
}

TEST_P(ServerStoreTest, UncommittedTransactionRollsBack) {
  {
    auto txn = store_->Begin(TxnMode::kWrite);
    ASSERT_TRUE((*txn)->PutPractitioner({"worker-1", "manager", 1}).ok());
    ASSERT_TRUE((*txn)->NextSeq().ok());
  }
  auto txn = store_->Begin(TxnMode::kRead);
  EXPECT_FALSE((*txn)->GetPractitioner("worker-1")->has_value());
  EXPECT_EQ(*(*txn)->MaxSeq(), 0u);
  EXPECT_EQ((*txn)->NextSeq().status().code(), StatusCode::kInternal);  // read-only
}

TEST_P(ServerStoreTest, DevicesCodesAndCaseloads) {
  auto txn = store_->Begin(TxnMode::kWrite);
  ASSERT_TRUE(txn.ok());
  ServerTxn& t = **txn;
  DeviceInfo d{std::string(32, '1'), "worker-1", "social_worker", std::string(32, 'k'), 5, 0, 0};
  ASSERT_TRUE(t.PutDevice(d).ok());
  DeviceInfo dup = d;
  dup.device_id = std::string(32, '2');  // same key
  EXPECT_EQ(t.PutDevice(dup).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*t.GetDeviceByKey(std::string(32, 'k')))->device_id, d.device_id);
  ASSERT_TRUE(t.RevokeDevice(d.device_id, 77).ok());
  EXPECT_EQ((*t.GetDevice(d.device_id))->revoked_at, 77);
  EXPECT_EQ(t.RevokeDevice(std::string(32, '9'), 1).code(), StatusCode::kNotFound);

  EnrolmentCode c{std::string(32, 'h'), "worker-1", "social_worker", 1, 2, 0, ""};
  ASSERT_TRUE(t.PutEnrolmentCode(c).ok());
  ASSERT_TRUE(t.MarkEnrolmentCodeUsed(c.code_hash, d.device_id, 3).ok());
  EXPECT_EQ(t.MarkEnrolmentCodeUsed(c.code_hash, d.device_id, 4).code(),
            StatusCode::kFailedPrecondition);

  ASSERT_TRUE(t.Assign({*t.NextSeq(), "worker-1", "S-1", "assign", 10}).ok());
  ASSERT_TRUE(t.Assign({*t.NextSeq(), "worker-1", "S-2", "assign", 11}).ok());
  ASSERT_TRUE(t.Unassign({*t.NextSeq(), "worker-1", "S-1", "unassign", 12}).ok());
  EXPECT_EQ(t.Unassign({*t.NextSeq(), "worker-1", "S-1", "unassign", 13}).code(), StatusCode::kNotFound);
  auto list = t.ListCaseload("worker-1");
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].subject_id, "S-2");
  EXPECT_EQ(t.CaseloadEvents("worker-1", 0, 100)->size(), 3u);
  EXPECT_EQ((*t.LastUnassign("worker-1", "S-1"))->at, 12);
  ASSERT_TRUE(t.Commit().ok());
}

TEST_P(ServerStoreTest, CaseContentIsSealedAtRest) {
  SessionContext sw = Device("worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
  json f = Sample("visit_note");
  f["location"] = "Zanzibar-Marker-Location";
  PushOne(sw, Create(sw, RandomHex(), "visit_note", "S-1", f));
  store_.reset();
  core_.reset();
  if (backend() == testing::Backend::kPostgres) {
    for (const char* sql : {"SELECT payload FROM revisions", "SELECT payload FROM conflicts",
                            "SELECT details FROM audit", "SELECT result FROM mutations"}) {
      for (const std::string& v : testing::PgColumn(conninfo_, sql)) {
        EXPECT_EQ(v.find("Zanzibar-Marker"), std::string::npos) << sql;
      }
    }
    EXPECT_EQ(testing::PgColumn(conninfo_, "SELECT payload FROM revisions").size(), 1u);
    return;
  }
  for (const char* name : {"/server.db", "/server.db-wal"}) {
    std::ifstream in(dir_ + name, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find("Zanzibar-Marker"), std::string::npos) << name;
  }
}

TEST_P(ServerStoreTest, WrongDataKeyIsRefusedAndReopenWorks) {
  store_.reset();
  core_.reset();
  auto bad = Open(core::RandomKey(random_), false);
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated);
  auto good = Open(key_.Clone(), false);
  EXPECT_TRUE(good.ok()) << good.status().ToString();
  if (backend() == testing::Backend::kPostgres) {
    // A second store on a database that holds one is refused...
    EXPECT_EQ(Open(key_.Clone(), true).status().code(), StatusCode::kFailedPrecondition);
    // ...an empty database holds none...
    std::string empty = testing::UniqueSchema();
    ASSERT_EQ(testing::PgExec(testing::PgConninfo(), "CREATE SCHEMA " + empty), "");
    auto none = OpenPgServerStore(testing::WithSchema(testing::PgConninfo(), empty), key_.Clone(), env_, false);
    EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
    (void)testing::PgExec(testing::PgConninfo(), "DROP SCHEMA " + empty + " CASCADE");
    // The server ran every migration.
    EXPECT_EQ(testing::PgColumn(conninfo_, "SELECT version::text FROM schema_migrations ORDER BY version"),
              (std::vector<std::string>{"1", "2"}));
    // ...and a bad conninfo is the caller's mistake.
    EXPECT_EQ(OpenPgServerStore("no_such_option=1", key_.Clone(), env_, false).status().code(),
              StatusCode::kInvalidArgument);
    return;
  }
  auto missing = OpenSqliteServerStore(dir_ + "/nope", key_.Clone(), env_, false);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_P(ServerStoreTest, AuditChainVerifiesAndDetectsTampering) {
  SessionContext sw = Device("worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
  PushOne(sw, Create(sw, RandomHex(), "visit_note", "S-1", Sample("visit_note")));
  auto n = core_->VerifyAudit();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_GE(*n, 4u);  // enroll, enrol, assign, write
  auto entries = core_->Audit();
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) {
    EXPECT_EQ(e.details.dump().find("Example Street"), std::string::npos);  // no case content
  }
  // The log refuses in-place edits...
  if (backend() == testing::Backend::kPostgres) {
    EXPECT_NE(testing::PgExec(conninfo_, "UPDATE audit SET actor = 'x' WHERE id = 2"), "");
    EXPECT_NE(testing::PgExec(conninfo_, "DELETE FROM audit WHERE id = 2"), "");
    EXPECT_NE(testing::PgExec(conninfo_, "TRUNCATE audit"), "");
  } else {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/server.db").c_str(), &db), SQLITE_OK);
    EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET actor = 'x' WHERE id = 2", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  // ...and someone who drops the guard is caught by the chain.
  RawExec("DROP TRIGGER audit_no_update; UPDATE audit SET details = '{\"subject\":\"S-9\"}' WHERE id = 3",
          "ALTER TABLE audit DISABLE TRIGGER audit_no_update; "
          "UPDATE audit SET details = '{\"subject\":\"S-9\"}' WHERE id = 3");
  auto broken = core_->VerifyAudit();
  EXPECT_EQ(broken.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(broken.status().message().find("audit entry 3"), std::string::npos);
}

TEST_P(ServerStoreTest, AuditDeletionInTheMiddleIsDetected) {
  Device("worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
  RawExec("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 2",
          "ALTER TABLE audit DISABLE TRIGGER audit_no_update; DELETE FROM audit WHERE id = 2");
  EXPECT_EQ(core_->VerifyAudit().status().code(), StatusCode::kDataLoss);
}

TEST_P(ServerStoreTest, AuditAnchorCatchesEntriesDroppedFromTheEnd) {
  Device("worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
  auto head = core_->VerifyAuditAgainst(std::nullopt);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  ASSERT_GE(head->id, 3u);  // enroll, enrol, assign
  EXPECT_EQ(head->hash.size(), 64u);
  // Against its own anchor, and against an earlier entry's, the log checks out.
  auto same = core_->VerifyAuditAgainst(*head);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->id, head->id);
  EXPECT_EQ(same->hash, head->hash);
  auto entries = core_->Audit();
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(core_->VerifyAuditAgainst(AuditHead{1, (*entries)[0].hash}).ok());
  // An anchor whose hash the log does not hold: the log was rewritten.
  AuditHead forged = *head;
  forged.hash[0] = forged.hash[0] == '0' ? '1' : '0';
  auto rewritten = core_->VerifyAuditAgainst(forged);
  EXPECT_EQ(rewritten.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(rewritten.status().message().find("audit entry " + std::to_string(head->id)), std::string::npos);
  // The last entry dropped (guard removed): the chain alone still verifies,
  // the anchor does not.
  const std::string last = std::to_string(head->id);
  RawExec("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = " + last,
          "ALTER TABLE audit DISABLE TRIGGER audit_no_update; DELETE FROM audit WHERE id = " + last);
  EXPECT_TRUE(core_->VerifyAudit().ok());
  auto cut = core_->VerifyAuditAgainst(*head);
  EXPECT_EQ(cut.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(cut.status().message().find("removed from the end"), std::string::npos) << cut.status().message();
}

DOORSTEP_BOTH_BACKENDS(ServerStoreTest);

}  // namespace
}  // namespace doorstep::sync
