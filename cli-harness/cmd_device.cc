// `doorstep device init|passwd|status|wipe`: the store's life cycle. The
// record commands are in cmd_device_records.cc; see shared/CLI.md.
#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli.h"
#include "commands.h"
#include "device_common.h"
#include "doorstep/core/store.h"
#include "passphrase.h"
#include "record_print.h"

namespace doorstep::cli {
namespace {

const std::map<std::string, core::KdfProfile> kKdfProfiles = {
    {"interactive", core::KdfProfile::kInteractive},
    {"moderate", core::KdfProfile::kModerate},
};

struct InitOptions {
  DeviceOptions device;
  std::string kdf = "moderate";
  int max_failed_unlocks = 10;
};

int RunInit(const InitOptions& o) {
  struct stat st {};
  if (stat(o.device.store.c_str(), &st) == 0) {
    return Fail(kExitUsage, "--store " + o.device.store +
                                ": already exists; choose another file or wipe it first");
  }
  KeyInput key;
  if (int rc = ReadKeyInput(o.device.key_file, /*confirm=*/true, &key); rc != kExitOk) return rc;
  core::StoreOptions options;
  options.kdf = kKdfProfiles.at(o.kdf);
  options.max_failed_unlocks = o.max_failed_unlocks;
  Result<std::unique_ptr<core::Store>> store =
      core::Store::Create(o.device.store, key.source(), options, RealEnv());
  if (!store.ok()) return Fail(store.status().Annotate("cannot create " + o.device.store));
  if (o.device.json) {
    PrintJson({{"store", o.device.store},
               {"device_id", (*store)->device_id()},
               {"kdf", o.kdf},
               {"max_failed_unlocks", o.max_failed_unlocks},
               {"passphrase", key.passphrase.has_value()},
               {"keystore_key", key.keystore_key.has_value()}});
  } else {
    std::printf("created store %s (device %s)\n", o.device.store.c_str(),
                (*store)->device_id().c_str());
  }
  return kExitOk;
}

struct PasswdOptions {
  DeviceOptions device;
  std::string kdf;  // empty: keep the store's profile
};

int RunPasswd(const PasswdOptions& o) {
  std::unique_ptr<core::Store> store;
  KeyInput old_key;
  if (int rc = OpenUnlocked(o.device, &store, &old_key); rc != kExitOk) return rc;
  KeyInput new_key;
  SecretString pass;
  if (int rc = ReadSecret(kNewPassphraseEnv, "New passphrase: ", /*confirm=*/true, &pass);
      rc != kExitOk) {
    return rc;
  }
  new_key.passphrase = std::move(pass);
  if (old_key.keystore_key) new_key.keystore_key = old_key.keystore_key->Clone();
  std::optional<core::KdfProfile> kdf;
  if (!o.kdf.empty()) kdf = kKdfProfiles.at(o.kdf);
  Status s = store->ChangeKey(old_key.source(), new_key.source(), kdf);
  if (!s.ok()) return Fail(s.Annotate("cannot change the passphrase of " + o.device.store));
  std::printf("passphrase changed for %s\n", o.device.store.c_str());
  return kExitOk;
}

int RunStatus(const DeviceOptions& o) {
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o, &store); rc != kExitOk) return rc;
  Result<core::StoreStatus> status = store->GetStatus();
  if (!status.ok()) return Fail(status.status().Annotate("cannot read the status of " + o.store));
  if (o.json) {
    PrintJson(core::StoreStatusToJson(o.store, *status));
  } else {
    PrintStatus(o.store, *status);
  }
  return kExitOk;
}

struct WipeOptions {
  DeviceOptions device;
  bool force = false;
};

// Wiping destroys every record, so it asks for the passphrase like any other
// command (a wrong one counts as a failed unlock) unless --force is given.
// --force still refuses a file that is not a Doorstep store.
int RunWipe(const WipeOptions& o) {
  if (o.force) {
    Result<std::unique_ptr<core::Store>> store = core::Store::Open(o.device.store, RealEnv());
    if (!store.ok()) {
      if (store.status().code() == StatusCode::kNotFound) {
        return Fail(kExitNotFound, "no store at " + o.device.store);
      }
      return Fail(store.status().Annotate(o.device.store + ": not wiped"));
    }
  } else {
    std::unique_ptr<core::Store> store;
    if (int rc = OpenUnlocked(o.device, &store); rc != kExitOk) return rc;
  }
  Status s = core::Store::Wipe(o.device.store);
  if (!s.ok()) return Fail(s.Annotate("cannot wipe " + o.device.store));
  std::printf("wiped %s\n", o.device.store.c_str());
  return kExitOk;
}

}  // namespace

void RegisterDeviceCommands(CLI::App& app, int* exit_code) {
  CLI::App* device = app.add_subcommand(
      "device", "A practitioner's device: its encrypted store and records");
  device->require_subcommand(1);

  auto init_o = std::make_shared<InitOptions>();
  CLI::App* init = device->add_subcommand("init", "Create a new encrypted store");
  AddDeviceOptions(init, &init_o->device, /*with_json=*/true);
  init->add_option("--kdf", init_o->kdf, "Argon2id profile for the passphrase (default moderate)")
      ->check(CLI::IsMember({"interactive", "moderate"}));
  init->add_option("--max-failed-unlocks", init_o->max_failed_unlocks,
                   "Wrong unlocks in a row before the store wipes itself (default 10)")
      ->check(CLI::Range(1, 1000));
  init->callback([init_o, exit_code] { *exit_code = RunInit(*init_o); });

  RegisterDeviceRecordCommands(device, exit_code);  // add, edit, show, list, history
  RegisterDeviceSyncCommands(device, exit_code);    // enroll, sync, conflicts, resolve

  auto passwd_o = std::make_shared<PasswdOptions>();
  CLI::App* passwd = device->add_subcommand(
      "passwd", "Change the passphrase (old in DOORSTEP_PASSPHRASE, new in "
                "DOORSTEP_NEW_PASSPHRASE); no record is touched");
  AddDeviceOptions(passwd, &passwd_o->device, /*with_json=*/false);
  passwd->add_option("--kdf", passwd_o->kdf, "Argon2id profile for the new passphrase")
      ->check(CLI::IsMember({"interactive", "moderate"}));
  passwd->callback([passwd_o, exit_code] { *exit_code = RunPasswd(*passwd_o); });

  auto status_o = std::make_shared<DeviceOptions>();
  CLI::App* status = device->add_subcommand(
      "status", "Pending changes, rejected changes, last sync, open conflicts, enrolment");
  AddDeviceOptions(status, status_o.get(), /*with_json=*/true);
  status->callback([status_o, exit_code] { *exit_code = RunStatus(*status_o); });

  auto wipe_o = std::make_shared<WipeOptions>();
  CLI::App* wipe = device->add_subcommand(
      "wipe", "Destroy the store and every record in it (asks for the passphrase unless --force)");
  AddDeviceOptions(wipe, &wipe_o->device, /*with_json=*/false);
  wipe->add_flag("--force", wipe_o->force, "Wipe without the passphrase");
  wipe->callback([wipe_o, exit_code] { *exit_code = RunWipe(*wipe_o); });

  RegisterDeviceCrashWriter(device, exit_code);
}

}  // namespace doorstep::cli
