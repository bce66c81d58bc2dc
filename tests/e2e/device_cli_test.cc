// End-to-end tests of `doorstep device init|add|edit|show|list|history|status`
// through the real binary: output shapes, validation errors, usage errors and
// not-found. Unlocking, passwd, wipe and tampering: device_unlock_test.cc.
#include <gtest/gtest.h>

#include <string>

#include "doorstep/core/samples.h"
#include "doorstep/core/schema.h"
#include "e2e/device_fixture.h"

namespace doorstep::e2e {
namespace {

using nlohmann::json;

TEST_F(DeviceCliTest, InitAddShowListRoundTrip) {
  Init();
  json fields = core::SampleFields("visit_note", NowMs());
  std::string id = Add("visit_note", "S-1", fields);

  RunResult show = Device("show", {id, "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  json r = Json(show);
  EXPECT_EQ(r.value("id", ""), id);
  EXPECT_EQ(r.value("type", ""), "visit_note");
  EXPECT_EQ(r.value("subject_id", ""), "S-1");
  EXPECT_EQ(r.value("status", ""), "draft");
  ASSERT_TRUE(r.contains("rev") && r["rev"].is_number_integer());
  ASSERT_TRUE(r.contains("flags") && r["flags"].is_array());
  ASSERT_TRUE(r.contains("fields") && r["fields"].is_object());
  EXPECT_EQ(r["fields"], fields);

  RunResult human = Device("show", {id});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("id:          " + id), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("type:        visit_note"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("fields:\n  "), std::string::npos) << human.out;

  // add --json prints the record.
  RunResult added = Device("add", {"--type", "pep_update", "--subject", "S-2", "--json"},
                           core::SampleFields("pep_update", NowMs()).dump());
  ASSERT_EQ(added.exit_code, 0) << added.err;
  json pep = Json(added);
  EXPECT_EQ(pep.value("type", ""), "pep_update");
  EXPECT_EQ(pep.value("subject_id", ""), "S-2");

  RunResult list = Device("list", {"--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json all = Json(list);
  ASSERT_TRUE(all.is_array());
  EXPECT_EQ(all.size(), 2u);
  for (const json& rec : all) EXPECT_TRUE(rec.contains("fields")) << rec.dump();

  RunResult by_subject = Device("list", {"--subject", "S-1", "--json"});
  ASSERT_EQ(by_subject.exit_code, 0) << by_subject.err;
  ASSERT_EQ(Json(by_subject).size(), 1u);
  EXPECT_EQ(Json(by_subject)[0].value("id", ""), id);
  RunResult by_type = Device("list", {"--type", "pathway_plan", "--json"});
  ASSERT_EQ(by_type.exit_code, 0) << by_type.err;
  EXPECT_TRUE(Json(by_type).empty());

  RunResult table = Device("list");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(id), std::string::npos);
  EXPECT_EQ(table.out.find(fields["purpose"].get<std::string>()), std::string::npos)
      << "list must not print field content";
}

TEST_F(DeviceCliTest, EditHistoryAndAmendment) {
  Init();
  json fields = core::SampleFields("visit_note", NowMs());
  std::string id = Add("visit_note", "S-1", fields);

  RunResult edit = Device("edit", {id}, R"({"observations": "Second wording."})");
  ASSERT_EQ(edit.exit_code, 0) << edit.err;
  EXPECT_EQ(edit.out, id + "\n");

  RunResult fin = Device("edit", {id, "--status", "final", "--json"});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  EXPECT_EQ(Json(fin).value("status", ""), "final");

  RunResult amend = Device("edit", {id, "--json"}, R"({"observations": "Third wording."})");
  ASSERT_EQ(amend.exit_code, 0) << amend.err;
  json amended = Json(amend);
  EXPECT_EQ(amended.value("status", ""), "final") << "a final record stays final when amended";
  EXPECT_EQ(amended["fields"].value("observations", ""), "Third wording.");

  RunResult hist = Device("history", {id, "--json"});
  ASSERT_EQ(hist.exit_code, 0) << hist.err;
  json h = Json(hist);
  ASSERT_TRUE(h.is_array());
  ASSERT_GE(h.size(), 3u) << h.dump();
  std::string wordings;
  for (const json& e : h) {
    for (const char* k : {"local_version", "rev", "hlc", "status", "origin", "fields"}) {
      EXPECT_TRUE(e.contains(k)) << k << " missing in " << e.dump();
    }
    wordings += e["fields"].value("observations", "") + "|";
  }
  EXPECT_NE(wordings.find(fields["observations"].get<std::string>()), std::string::npos);
  EXPECT_NE(wordings.find("Second wording."), std::string::npos);

  RunResult human = Device("history", {id});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("version "), std::string::npos);
  EXPECT_NE(human.out.find("Second wording."), std::string::npos);
}

TEST_F(DeviceCliTest, StatusShowsPendingAndEnrolment) {
  Init();
  Add("visit_note", "S-1", core::SampleFields("visit_note", NowMs()));
  Add("pathway_plan", "S-3", core::SampleFields("pathway_plan", NowMs()));
  RunResult st = Device("status", {"--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  json s = Json(st);
  EXPECT_EQ(s.value("pending", -1), 2);
  EXPECT_EQ(s.value("rejected", -1), 0);
  EXPECT_TRUE(s.contains("rejected_details") && s["rejected_details"].is_array());
  EXPECT_EQ(s.value("open_conflicts", -1), 0);
  EXPECT_EQ(s.value("last_sync_at", -1), 0);
  EXPECT_EQ(s.value("enrolled", true), false);
  EXPECT_EQ(s.value("records", -1), 2);
  RunResult human = Device("status");
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("pending changes:  2"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("last sync:        never"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("not enrolled"), std::string::npos) << human.out;
}

TEST_F(DeviceCliTest, ValidationListsEveryProblem) {
  Init();
  json fields = core::SampleFields("visit_note", NowMs());
  fields.erase("purpose");
  fields.erase("observations");
  fields["visit_end"] = "not a time";
  fields["announced"] = "yes";
  core::ValidationResult expected = core::Validate(
      *core::SchemaRegistry::Default().Find("visit_note"), fields, "final", {NowMs()});
  ASSERT_GE(expected.problems.size(), 4u);

  RunResult r = Device("add", {"--type", "visit_note", "--subject", "S-1", "--status", "final",
                               "--json"},
                       fields.dump());
  EXPECT_EQ(r.exit_code, 3);
  std::vector<std::string> lines = Lines(r.err);
  ASSERT_EQ(lines.size(), expected.problems.size() + 1) << r.err;
  EXPECT_EQ(lines[0], "doorstep: record refused: " + std::to_string(expected.problems.size()) +
                          " problems");
  for (size_t i = 0; i < expected.problems.size(); ++i) {
    const core::Problem& p = expected.problems[i];
    EXPECT_EQ(lines[i + 1], "doorstep: " + (p.path.empty() ? "record" : p.path) + ": " +
                                p.message + " (" + p.code + ")");
  }
  json out = Json(r);
  ASSERT_TRUE(out.contains("problems") && out["problems"].is_array());
  EXPECT_EQ(out["problems"].size(), expected.problems.size());
  EXPECT_EQ(out["problems"], core::ProblemsToJson(expected.problems));

  // Nothing was written.
  RunResult list = Device("list", {"--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Json(list).empty());
}

TEST_F(DeviceCliTest, FieldsMustBeAJsonObject) {
  Init();
  RunResult arr = Device("add", {"--type", "visit_note", "--subject", "S-1"}, "[1, 2]");
  EXPECT_EQ(arr.exit_code, 3);
  EXPECT_NE(arr.err.find("doorstep: fields (standard input): expected a JSON object"),
            std::string::npos)
      << arr.err;
  RunResult bad = Device("add", {"--type", "visit_note", "--subject", "S-1"}, "{not json");
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.err.find("not valid JSON"), std::string::npos) << bad.err;
  RunResult missing =
      Device("add", {"--type", "visit_note", "--subject", "S-1", "--fields", dir_.File("nope")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--fields"), std::string::npos) << missing.err;

  // --fields FILE works like stdin.
  WriteFile(dir_.File("f.json"), core::SampleFields("visit_note", NowMs()).dump());
  RunResult from_file = Device(
      "add", {"--type", "visit_note", "--subject", "S-1", "--fields", dir_.File("f.json")});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
}

TEST_F(DeviceCliTest, UsageErrorsExit2) {
  Init();
  RunResult bogus = Device("show", {"--bogus"});
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_EQ(bogus.err.rfind("doorstep: ", 0), 0u) << bogus.err;
  RunResult no_store = RunDoorstep({"device", "list"}, env_);
  EXPECT_EQ(no_store.exit_code, 2);
  EXPECT_NE(no_store.err.find("--store"), std::string::npos) << no_store.err;
  RunResult bad_type = Device("add", {"--type", "shopping_list", "--subject", "S-1"}, "{}");
  EXPECT_EQ(bad_type.exit_code, 2);
  EXPECT_NE(bad_type.err.find("--type"), std::string::npos) << bad_type.err;
  RunResult bad_kdf = RunDoorstep({"device", "init", "--store", dir_.File("x.db"), "--kdf", "fast"}, env_);
  EXPECT_EQ(bad_kdf.exit_code, 2);
  RunResult again = Device("init", {"--kdf", "interactive"});
  EXPECT_EQ(again.exit_code, 2) << "init over an existing store";
  RunResult bad_id = Device("show", {"not-an-id"});
  EXPECT_EQ(bad_id.exit_code, 2);
  EXPECT_NE(bad_id.err.find("ID"), std::string::npos) << bad_id.err;

  // No passphrase in the environment and no terminal: usage error naming the variable.
  RunResult no_pass = Device("list", {}, "", {{"DOORSTEP_PASSPHRASE", std::nullopt}});
  EXPECT_EQ(no_pass.exit_code, 2);
  EXPECT_NE(no_pass.err.find("DOORSTEP_PASSPHRASE"), std::string::npos) << no_pass.err;

  RunResult help = RunDoorstep({"device", "--help"}, env_);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out.find("crash-writer"), std::string::npos) << "test helper must be hidden";
}

TEST_F(DeviceCliTest, NotFoundExit5) {
  RunResult no_store = Device("list");
  EXPECT_EQ(no_store.exit_code, 5);
  EXPECT_NE(no_store.err.find(store_), std::string::npos) << no_store.err;
  Init();
  const std::string unknown(32, 'a');
  EXPECT_EQ(Device("show", {unknown}).exit_code, 5);
  EXPECT_EQ(Device("history", {unknown}).exit_code, 5);
  EXPECT_EQ(Device("edit", {unknown}, R"({"purpose": "x"})").exit_code, 5);
}

}  // namespace
}  // namespace doorstep::e2e
