// The PostgreSQL store sends writes whose results it does not need (revision
// and head rows, audit entries) in one pipeline with the next statement
// (PgConn::Defer, sync/src/pg_pipeline.cc). A queued write that fails must
// still fail the transaction: nothing of it is committed, and the
// connection goes on serving.
#include "server_fixture.h"

namespace doorstep::sync {
namespace {

using testing::Backend;
using testing::ServerFixture;

class PgPipelineTest : public ServerFixture {
 protected:
  Backend backend() const override { return Backend::kPostgres; }
  StoredRecord Rec(const std::string& id, uint64_t seq) {
    StoredRecord r;
    r.record.id = id;
    r.record.type = "visit_note";
    r.record.subject_id = "S-1";
    r.record.rev = 1;
    r.record.author_id = "worker-1";
    r.record.device_id = std::string(32, 'd');
    r.record.fields = {{"purpose", "Visit A"}};
    r.seq = seq;
    r.mutation_id = std::string(32, 'm');
    return r;
  }
  uint64_t Count(const std::string& table) {
    auto v = testing::PgColumn(conninfo_, "SELECT count(*)::text FROM " + table);
    return v.empty() ? 999 : std::stoull(v[0]);
  }
};

TEST_F(PgPipelineTest, AFailedQueuedWriteFailsTheTransaction) {
  // A stray revision row (no head) makes the queued INSERT of rev 1 collide.
  ASSERT_EQ(testing::PgExec(conninfo_, "INSERT INTO revisions(record_id, rev, seq, mutation_id, payload) "
                                       "VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1, 0, '', '\\x00'::bytea)"),
            "");
  const uint64_t audit_before = Count("audit");
  {
    auto txn = store_->Begin(TxnMode::kWrite);
    ASSERT_TRUE(txn.ok());
    auto seq = (*txn)->NextSeq();
    ASSERT_TRUE(seq.ok());
    // Queued: the error comes with the next round trip (here, or when the
    // next statement is prepared), whichever call makes it.
    Status st = (*txn)->PutRevision(Rec(std::string(32, 'a'), *seq));
    AuditEntry e;
    e.actor = "server";
    e.action = "write";
    if (st.ok()) st = (*txn)->AppendAudit(e);
    if (st.ok()) st = (*txn)->Commit();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find("revisions"), std::string::npos) << st.ToString();
  }
  EXPECT_EQ(Count("records"), 0u);
  EXPECT_EQ(Count("audit"), audit_before);
  // The pool still serves, and queued writes that succeed commit.
  {
    auto txn = store_->Begin(TxnMode::kWrite);
    ASSERT_TRUE(txn.ok()) << txn.status().ToString();
    auto seq = (*txn)->NextSeq();
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE((*txn)->PutRevision(Rec(std::string(32, 'b'), *seq)).ok());
    auto head = (*txn)->GetHead(std::string(32, 'b'));  // reads its own queued write
    ASSERT_TRUE(head.ok() && head->has_value()) << head.status().ToString();
    EXPECT_EQ((*head)->record.fields["purpose"], "Visit A");
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  EXPECT_EQ(Count("records"), 1u);
  auto verified = core_->VerifyAudit();
  EXPECT_TRUE(verified.ok()) << verified.status().ToString();
}

}  // namespace
}  // namespace doorstep::sync
