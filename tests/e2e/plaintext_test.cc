// The plaintext test: records whose every text and string field carries a
// unique marker are added, edited (so history holds earlier wordings),
// finalised and amended, and one is refused by validation; a marked record
// is pulled, a conflict with marked values is resolved with a marked value
// (its payload queued for push), and a push answer refuses a change with a
// marked reason; the audit trail records all of it. Then no file in the store's directory — the database,
// its -wal and -shm, anything else — contains the marker's bytes, neither
// while the store is open nor after it is closed. Done once through the Store
// API (every record type) and once through the `doorstep` binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "doorstep/core/crypto.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/schema.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "core/store_test_base.h"
#include "e2e/device_fixture.h"

namespace doorstep::e2e {
namespace {

using nlohmann::json;

std::string NewMarker() {
  std::random_device rd;
  std::string raw;
  for (int i = 0; i < 8; ++i) raw.push_back(static_cast<char>(rd() & 0xff));
  return "MARKER-" + core::ToHex(raw);
}

// Appends "<marker>-<n>" to every string leaf of `fields` whose schema type
// is text or string, keeping only the changes that still validate (some
// strings have formats, e.g. a school URN). Returns how many were marked.
int MarkTextFields(const core::RecordSchema& schema, const std::string& marker, json* fields) {
  int marked = 0;
  std::vector<std::string> leaves;  // JSON pointers of the string leaves
  json flat = fields->flatten();
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    if (it->is_string()) leaves.push_back(it.key());
  }
  for (const std::string& key : leaves) {
    const json::json_pointer ptr(key);
    // "/persons_present/0/name" → "persons_present[0].name"
    std::string path;
    std::string rest = key.substr(1);
    for (size_t start = 0; start <= rest.size();) {
      size_t slash = rest.find('/', start);
      std::string tok = rest.substr(start, slash == std::string::npos ? std::string::npos
                                                                      : slash - start);
      bool index = !tok.empty() && tok.find_first_not_of("0123456789") == std::string::npos;
      path += index ? "[" + tok + "]" : (path.empty() ? "" : ".") + tok;
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    const core::FieldSpec* spec = schema.FindPath(path);
    if (spec == nullptr ||
        (spec->type != core::FieldType::kText && spec->type != core::FieldType::kString)) {
      continue;
    }
    std::string before = (*fields)[ptr].get<std::string>();
    (*fields)[ptr] = before + " " + marker + "-" + std::to_string(marked);
    if (core::Validate(schema, *fields, "final", {NowMs()}).ok()) {
      ++marked;
    } else {
      (*fields)[ptr] = before;
    }
  }
  return marked;
}

// Names of the files under `dir` that contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (ReadFile(entry.path().string()).find(needle) != std::string::npos) {
      hits.push_back(entry.path().filename().string());
    }
  }
  return hits;
}

std::vector<std::string> StoreFiles(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

TEST(PlaintextTest, ScannerFindsAPlantedMarker) {
  TempDir dir;
  const std::string marker = NewMarker();
  WriteFile(dir.File("planted"), "xx" + marker + "yy");
  EXPECT_EQ(FilesContaining(dir.path(), marker), std::vector<std::string>{"planted"});
}

TEST(PlaintextTest, NoMarkerInAnyStoreFile) {
  ASSERT_TRUE(Initialize().ok());
  TempDir dir;
  const std::string marker = NewMarker();
  const std::string path = dir.File("device.db");
  const std::string pass = "plaintext test passphrase";
  core::KeySource key;
  key.passphrase = &pass;
  core::StoreOptions options;
  options.kdf = core::KdfProfile::kInteractive;
  Result<std::unique_ptr<core::Store>> store = core::Store::Create(path, key, options, RealEnv());
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  int n = 0;
  for (const std::string& type : core::SchemaRegistry::Default().TypeNames()) {
    const core::RecordSchema& schema = *core::SchemaRegistry::Default().Find(type);
    json fields = core::SampleFields(type, NowMs());
    ASSERT_GT(MarkTextFields(schema, marker + "-" + type, &fields), 0) << type;
    Result<core::WriteOutcome> added = (*store)->Add(type, "S-PLAIN", fields, "draft");
    ASSERT_TRUE(added.ok() && added->saved()) << type;
    const std::string id = added->record.id;

    // An edit, finalising, and an amendment: each earlier wording goes to history.
    json edit = core::SampleFields(type, NowMs());
    ASSERT_GT(MarkTextFields(schema, marker + "-edit" + std::to_string(n++), &edit), 0);
    Result<core::WriteOutcome> e1 = (*store)->Edit(id, edit, std::nullopt);
    ASSERT_TRUE(e1.ok() && e1->saved()) << type;
    Result<core::WriteOutcome> e2 = (*store)->Edit(id, json::object(), std::string("final"));
    ASSERT_TRUE(e2.ok() && e2->saved()) << type;
    json amend = core::SampleFields(type, NowMs());
    ASSERT_GT(MarkTextFields(schema, marker + "-amend" + std::to_string(n++), &amend), 0);
    Result<core::WriteOutcome> e3 = (*store)->Edit(id, amend, std::nullopt);
    ASSERT_TRUE(e3.ok() && e3->saved()) << type;
    Result<std::vector<core::HistoryEntry>> h = (*store)->History(id);
    ASSERT_TRUE(h.ok());
    EXPECT_GE(h->size(), 3u);
  }
  // A refused write carrying the marker leaves nothing behind either.
  json bad = {{"purpose", marker + "-refused"}};
  Result<core::WriteOutcome> refused = (*store)->Add("visit_note", "S-PLAIN", bad, "draft");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->saved());
  // The sync side: a pulled record, a conflict with marked values resolved
  // with a marked value (the resolve's payload is queued in its version
  // row), and a push answer refusing a change with a marked reason.
  {
    Result<std::vector<core::Record>> list = (*store)->List({});
    ASSERT_TRUE(list.ok());
    std::string note_id;
    for (const core::Record& r : *list) {
      if (r.type == "visit_note") note_id = r.id;
    }
    ASSERT_FALSE(note_id.empty());
    core::Record pulled = core::testing::PulledVisitNote(std::string(31, 'b') + "1", "S-PLAIN", NowMs());
    const core::RecordSchema& schema = *core::SchemaRegistry::Default().Find("visit_note");
    ASSERT_GT(MarkTextFields(schema, marker + "-pulled", &pulled.fields), 0);
    core::PulledConflict conflict{std::string(31, 'c') + "1", note_id, "S-PLAIN", "open",
                                  {{"path", "observations"},
                                   {"base", marker + "-base"},
                                   {"server", marker + "-server"},
                                   {"device", marker + "-device"}}};
    ASSERT_TRUE(core::ApplyPulledBatch(**store, std::vector<core::Record>{pulled}, {conflict}, {}, 1).ok());
    ASSERT_TRUE(core::ResolveConflict(**store, conflict.conflict_id, "value", marker + "-resolved").ok());
    Result<std::vector<core::OutgoingMutation>> queued = core::PendingMutations(**store, 100);
    ASSERT_TRUE(queued.ok());
    ASSERT_FALSE(queued->empty());
    ASSERT_EQ(queued->back().kind, "resolve");
    EXPECT_EQ(queued->back().resolve["value"], marker + "-resolved");
    ASSERT_TRUE(core::ApplyPushAcks(**store, {{queued->front().mutation_id, "rejected", 0, marker + "-reason"}}).ok());
  }
  Result<core::StoreStatus> status = (*store)->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->records, 5);
  EXPECT_EQ(status->rejected, 1);

  EXPECT_EQ(FilesContaining(dir.path(), marker), std::vector<std::string>{})
      << "while open; files: " << ::testing::PrintToString(StoreFiles(dir.path()));
  store->reset();
  EXPECT_EQ(FilesContaining(dir.path(), marker), std::vector<std::string>{})
      << "after close; files: " << ::testing::PrintToString(StoreFiles(dir.path()));
  EXPECT_TRUE(Exists(path));
}

TEST_F(DeviceCliTest, NoMarkerInAnyFileAfterCliWrites) {
  const std::string marker = NewMarker();
  const core::RecordSchema& schema = *core::SchemaRegistry::Default().Find("visit_note");
  Init();
  json fields = core::SampleFields("visit_note", NowMs());
  ASSERT_GT(MarkTextFields(schema, marker, &fields), 3);
  std::string id = Add("visit_note", "S-PLAIN", fields);
  json edit = {{"observations", "Changed " + marker + "-edit"}};
  ASSERT_EQ(Device("edit", {id}, edit.dump()).exit_code, 0);
  ASSERT_EQ(Device("edit", {id, "--status", "final"}).exit_code, 0);
  ASSERT_EQ(Device("edit", {id}, json{{"analysis", marker + "-amend"}}.dump()).exit_code, 0);
  RunResult show = Device("show", {id});
  ASSERT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find(marker), std::string::npos) << "show prints the content";
  EXPECT_EQ(FilesContaining(dir_.path(), marker), std::vector<std::string>{})
      << "files: " << ::testing::PrintToString(StoreFiles(dir_.path()));
}

}  // namespace
}  // namespace doorstep::e2e
