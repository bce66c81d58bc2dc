// The C ABI's boundary: an exception thrown deep inside the core never
// crosses it; the call returns failure with a filled ds_error, and the handle
// stays usable. Uses the boundary's test hook (capi_internal.h), so it links
// the C ABI statically rather than through libdoorstep.so.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "capi_internal.h"
#include "capi_json.h"
#include "doorstep/doorstep.h"

namespace doorstep::capi {
namespace {

enum class Fault { kNone, kRuntimeError, kBadAlloc, kInt };

void Throw(Fault f) {
  switch (f) {
    case Fault::kNone:
      return;
    case Fault::kRuntimeError:
      throw std::runtime_error("boom: secret words must not leak");
    case Fault::kBadAlloc:
      throw std::bad_alloc();
    case Fault::kInt:
      throw 42;
  }
}

// Real randomness and time until armed; then they throw.
class ArmedRandom : public Random {
 public:
  void Fill(void* buf, size_t n) override {
    Throw(fault.load());
    RealEnv().random->Fill(buf, n);
  }
  std::atomic<Fault> fault{Fault::kNone};
};

class ArmedClock : public Clock {
 public:
  int64_t NowMillis() override {
    Throw(fault.load());
    return RealEnv().clock->NowMillis();
  }
  int64_t MonotonicMicros() override {
    return RealEnv().clock->MonotonicMicros();
  }
  std::atomic<Fault> fault{Fault::kNone};
};

constexpr char kFields[] =
    R"({"visit_type":"child_in_need","visit_start":"2025-03-10T10:00:00+00:00",)"
    R"("visit_end":"2025-03-10T11:00:00+00:00","announced":true,"location":"Family home",)"
    R"("persons_present":[{"name":"Child A","role":"child"}],"child_seen":true,)"
    R"("seen_alone":true,"purpose":"Visit.\n","observations":"Tidy.\n",)"
    R"("wishes_and_feelings":"Child A said: fine.\n"})";

class CApiBoundaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ds_error err{};
    ASSERT_TRUE(ds_init(&err)) << err.message;
    dir_ = std::filesystem::temp_directory_path() /
           ("ds_boundary_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    env_ = RealEnv();
    env_.random = &random_;
    env_.clock = &clock_;
    SetEnvForTest(&env_);
  }
  void TearDown() override {
    SetEnvForTest(nullptr);
    std::filesystem::remove_all(dir_);
  }
  std::string Path(const char* name) { return (dir_ / name).string(); }

  std::filesystem::path dir_;
  ArmedRandom random_;
  ArmedClock clock_;
  Env env_;
};

TEST_F(CApiBoundaryTest, ExceptionInsideStoreAddBecomesInternalError) {
  ds_error err{};
  ds_store_t* s = ds_store_create(Path("a.db").c_str(), "pw", nullptr, 0,
                                  R"({"kdf":"interactive"})", &err);
  ASSERT_NE(s, nullptr) << err.message;

  // Store::Add reads Env's Clock (record times, audit): it throws in there.
  // (Record ids come from a per-session stream drawn at unlock, not from
  // Random on each write.)
  clock_.fault = Fault::kRuntimeError;
  err = ds_error{};
  char* rec = ds_record_put(s, "visit_note", "case-1", kFields, nullptr, &err);
  EXPECT_EQ(rec, nullptr);
  EXPECT_EQ(err.code, DS_ERR_INTERNAL);
  EXPECT_NE(std::string(err.message).find("unexpected exception"),
            std::string::npos);
  // what() is never copied out (it may quote input).
  EXPECT_EQ(std::string(err.message).find("secret words"), std::string::npos);

  clock_.fault = Fault::kBadAlloc;
  rec = ds_record_put(s, "visit_note", "case-1", kFields, nullptr, &err);
  EXPECT_EQ(rec, nullptr);
  EXPECT_EQ(err.code, DS_ERR_RESOURCE_EXHAUSTED);

  clock_.fault = Fault::kInt;  // not even a std::exception
  rec = ds_record_put(s, "visit_note", "case-1", kFields, nullptr, &err);
  EXPECT_EQ(rec, nullptr);
  EXPECT_EQ(err.code, DS_ERR_INTERNAL);

  // The handle is still usable and nothing half-written is visible.
  clock_.fault = Fault::kNone;
  char* list = ds_record_list(s, nullptr, &err);
  ASSERT_NE(list, nullptr) << err.message;
  EXPECT_STREQ(list, "[]");
  ds_string_free(list);
  rec = ds_record_put(s, "visit_note", "case-1", kFields, nullptr, &err);
  ASSERT_NE(rec, nullptr) << err.message;
  ds_string_free(rec);
  ds_store_close(s);
}

TEST_F(CApiBoundaryTest, ExceptionInsideStoreCreateAndValidate) {
  ds_error err{};
  random_.fault =
      Fault::kRuntimeError;  // the salt and device id come from Random
  EXPECT_EQ(
      ds_store_create(Path("b.db").c_str(), "pw", nullptr, 0, nullptr, &err),
      nullptr);
  EXPECT_EQ(err.code, DS_ERR_INTERNAL);
  random_.fault = Fault::kNone;

  clock_.fault = Fault::kBadAlloc;  // validation reads the device clock
  err = ds_error{};
  EXPECT_EQ(ds_validate("visit_note", kFields, nullptr, &err), nullptr);
  EXPECT_EQ(err.code, DS_ERR_RESOURCE_EXHAUSTED);
  EXPECT_STREQ(err.message, "out of memory");
  clock_.fault = Fault::kNone;
  char* v = ds_validate("visit_note", kFields, nullptr, &err);
  ASSERT_NE(v, nullptr) << err.message;
  ds_string_free(v);
}

TEST_F(CApiBoundaryTest, NullErrorPointerIsAllowedOnFailure) {
  random_.fault = Fault::kRuntimeError;
  EXPECT_EQ(
      ds_store_create(Path("c.db").c_str(), "pw", nullptr, 0, nullptr, nullptr),
      nullptr);
}

TEST(CApiErrorTest, LongMessagesAreCutAtACharacterBoundary) {
  ds_error err{};
  std::string long_message(DS_ERROR_MESSAGE_SIZE - 2, 'a');
  long_message += "\xC3\xA9\xC3\xA9";  // two-byte characters across the end
  FillError(&err, DS_ERR_INTERNAL, long_message.c_str());
  std::string got = err.message;
  EXPECT_EQ(got.size(), DS_ERROR_MESSAGE_SIZE - 2u);
  EXPECT_EQ(got, std::string(DS_ERROR_MESSAGE_SIZE - 2, 'a'));
  FillError(nullptr, DS_ERR_INTERNAL, "ignored");  // no crash
}

TEST(CApiErrorTest, ProblemListTooLongForTheBufferIsTruncatedAsValidJson) {
  std::vector<core::Problem> problems;
  for (int i = 0; i < 300; ++i) {
    problems.push_back(
        {"persons_present[" + std::to_string(i) + "].role", "type",
         "Persons present: each role must be one of the listed roles."});
  }
  std::string text = ProblemsForError(problems, DS_ERROR_MESSAGE_SIZE - 1);
  EXPECT_LE(text.size(), DS_ERROR_MESSAGE_SIZE - 1u);
  auto j = nlohmann::json::parse(text, nullptr, false);
  ASSERT_TRUE(j.is_array());
  ASSERT_GT(j.size(), 1u);
  EXPECT_EQ(j.back()["code"], "truncated");
  EXPECT_EQ(j.front()["path"], "persons_present[0].role");

  std::vector<core::Problem> few = {
      {"visit_type", "required", "Visit type: required."}};
  EXPECT_EQ(nlohmann::json::parse(ProblemsForError(few, 4095)).size(), 1u);
}


// ds_record_put_many: 40 records (enough for AddMany's second thread), one of
// them refused: each gets its own entry, the rest are saved together.
std::string ManyRecords(size_t n, size_t refused) {
  nlohmann::json arr = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    nlohmann::json f = nlohmann::json::parse(kFields);
    f["location"] = "Family home " + std::to_string(i);
    if (i == refused) f["visit_end"] = "2025-03-10T09:00:00+00:00";  // before the start
    arr.push_back({{"type", "visit_note"}, {"subject_id", "case-many"}, {"fields", f}});
  }
  return arr.dump();
}

TEST_F(CApiBoundaryTest, PutManyReportsEachRecordAndRefusesBadInputWhole) {
  ds_error err{};
  ds_store_t* s = ds_store_create(Path("m.db").c_str(), "pw", nullptr, 0,
                                  R"({"kdf":"interactive"})", &err);
  ASSERT_NE(s, nullptr) << err.message;
  char* out = ds_record_put_many(s, ManyRecords(40, 7).c_str(), &err);
  ASSERT_NE(out, nullptr) << err.message;
  nlohmann::json j = nlohmann::json::parse(out);
  ds_string_free(out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 40u);
  for (size_t i = 0; i < j.size(); ++i) {
    if (i == 7) {
      EXPECT_EQ(j[i].value("ok", true), false);
      EXPECT_FALSE(j[i]["problems"].empty());
      EXPECT_FALSE(j[i].contains("record"));
    } else {
      EXPECT_EQ(j[i].value("ok", false), true) << i;
      EXPECT_EQ(j[i]["record"].value("subject_id", ""), "case-many") << i;
    }
  }
  char* list = ds_record_list(s, nullptr, &err);
  ASSERT_NE(list, nullptr) << err.message;
  EXPECT_EQ(nlohmann::json::parse(list).size(), 39u);
  ds_string_free(list);

  // Bad input: the message names the entry, and nothing is saved.
  nlohmann::json bad = nlohmann::json::parse(ManyRecords(40, 99));
  bad[3].erase("type");
  bad[5]["status"] = 1;
  for (const std::string& in : {std::string("{}"), std::string("[1]"), bad.dump(), std::string("not json")}) {
    err = ds_error{};
    EXPECT_EQ(ds_record_put_many(s, in.c_str(), &err), nullptr) << in;
    EXPECT_EQ(err.code, DS_ERR_INVALID_ARGUMENT) << in;
  }
  EXPECT_NE(std::string(err.message).find("records"), std::string::npos) << err.message;
  err = ds_error{};
  EXPECT_EQ(ds_record_put_many(s, bad.dump().c_str(), &err), nullptr);
  EXPECT_NE(std::string(err.message).find("records[3].type"), std::string::npos) << err.message;
  bad = nlohmann::json::parse(ManyRecords(40, 99));
  bad[30]["type"] = "case_note";
  err = ds_error{};
  EXPECT_EQ(ds_record_put_many(s, bad.dump().c_str(), &err), nullptr);
  EXPECT_EQ(err.code, DS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err.message).find("records[30]"), std::string::npos) << err.message;
  list = ds_record_list(s, nullptr, &err);
  ASSERT_NE(list, nullptr) << err.message;
  EXPECT_EQ(nlohmann::json::parse(list).size(), 39u);
  ds_string_free(list);
  ds_store_close(s);
}

TEST_F(CApiBoundaryTest, ExceptionWhilePreparingManyRecordsBecomesAnError) {
  // AddMany's second thread reads the Clock; what it throws must come back as
  // an error (never terminate the process, never quote what()), and the
  // call's transaction saves nothing.
  ds_error err{};
  ds_store_t* s = ds_store_create(Path("b.db").c_str(), "pw", nullptr, 0,
                                  R"({"kdf":"interactive"})", &err);
  ASSERT_NE(s, nullptr) << err.message;
  const std::string many = ManyRecords(40, 99);
  for (auto [fault, code] : {std::pair{Fault::kRuntimeError, DS_ERR_INTERNAL},
                             std::pair{Fault::kBadAlloc, DS_ERR_RESOURCE_EXHAUSTED},
                             std::pair{Fault::kInt, DS_ERR_INTERNAL}}) {
    clock_.fault = fault;
    err = ds_error{};
    EXPECT_EQ(ds_record_put_many(s, many.c_str(), &err), nullptr);
    EXPECT_EQ(err.code, code) << err.message;
    EXPECT_EQ(std::string(err.message).find("secret words"), std::string::npos) << err.message;
  }
  clock_.fault = Fault::kNone;
  char* list = ds_record_list(s, nullptr, &err);
  ASSERT_NE(list, nullptr) << err.message;
  EXPECT_STREQ(list, "[]");
  ds_string_free(list);
  char* out = ds_record_put_many(s, many.c_str(), &err);
  ASSERT_NE(out, nullptr) << err.message;
  EXPECT_EQ(nlohmann::json::parse(out).size(), 40u);
  ds_string_free(out);
  ds_store_close(s);
}

}  // namespace
}  // namespace doorstep::capi
