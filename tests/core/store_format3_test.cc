// Store format 3 specifics (docs/store.md, "As built"): records keep only an
// integer key of each HLC stamp's time and counter (the counter saturating
// at 2^20 - 1), so List must still give the exact stamp order within a
// subject (ties between devices, saturated counters), and the clock must
// recover past every stored stamp after a reopen.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "core/store_test_base.h"

namespace doorstep::core {
namespace {

class StoreFormat3Test : public testing::StoreTestBase {
 protected:
  StoreFormat3Test() : StoreTestBase(/*seed=*/3, 1'764'000'000'000, '\x31') {}

  Record Pulled(char id_char, const std::string& hlc) {
    Record r;
    r.id = std::string(32, id_char);
    r.type = "visit_note";
    r.subject_id = "S-ORDER";
    r.author_id = "worker-2";
    r.device_id = hlc.substr(23);
    r.rev = 1;
    r.hlc = hlc;
    r.created_at = r.updated_at = clock_.NowMillis();
    r.server_received_at = clock_.NowMillis();
    r.fields = SampleFields("visit_note", clock_.NowMillis());
    return r;
  }
};

TEST_F(StoreFormat3Test, ListOrdersByTheFullStampWithinASubject) {
  auto store = Store::Create(path_, Key(), {}, env_);
  ASSERT_TRUE(store.ok());
  const std::string t = "1764000000000-";
  std::vector<Record> batch = {
      Pulled('1', t + "00000001-" + std::string(32, 'b')),
      Pulled('2', t + "00000001-" + std::string(32, 'a')),  // same time and counter: the device decides
      Pulled('3', t + "00300000-" + std::string(32, 'c')),  // both counters saturate the integer key
      Pulled('4', t + "00200000-" + std::string(32, 'd')),
      Pulled('5', t + "00000000-" + std::string(32, 'f')),
  };
  ASSERT_TRUE(ApplyPulledBatch(**store, batch, {}, {}, 1).ok());
  auto list = (*store)->List({std::string("S-ORDER"), std::nullopt});
  ASSERT_TRUE(list.ok());
  std::vector<std::string> order;
  for (const Record& r : *list) order.push_back(r.id.substr(0, 1));
  EXPECT_EQ(order, (std::vector<std::string>{"5", "2", "1", "4", "3"}));
}

TEST_F(StoreFormat3Test, ClockRecoversPastASaturatedCounterAfterReopen) {
  auto store = Store::Create(path_, Key(), {}, env_);
  ASSERT_TRUE(store.ok());
  // A stamp ahead of this device's wall clock, its counter beyond the key's 20 bits.
  const std::string ahead = std::to_string(clock_.NowMillis() + 5000) + "-00300000-" + std::string(32, 'e');
  ASSERT_TRUE(ApplyPulledBatch(**store, {Pulled('7', ahead)}, {}, {}, 1).ok());
  store->reset();
  auto reopened = Store::Open(path_, env_);
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE((*reopened)->Unlock(Key()).ok());
  auto added = (*reopened)->Add("visit_note", "S-ORDER", SampleFields("visit_note", clock_.NowMillis()), "draft");
  ASSERT_TRUE(added.ok() && added->saved());
  EXPECT_GT(added->record.hlc, ahead) << "a local write after the pulled one must stamp after it";
  auto list = (*reopened)->List({std::string("S-ORDER"), std::nullopt});
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].id, added->record.id);
}

}  // namespace
}  // namespace doorstep::core
