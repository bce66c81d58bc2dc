// Helpers for the bad-input tests: a digest of what a server store holds,
// and every "wrong type" variant of an encoded protocol message.
#ifndef DOORSTEP_TESTS_SYNC_BAD_INPUT_UTIL_H_
#define DOORSTEP_TESTS_SYNC_BAD_INPUT_UTIL_H_

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/crypto.h"

namespace doorstep::sync::testing {

// Blake2b-256 (hex) over every row of every table of `db_path` except the
// audit log (refused sessions are audited by design), rows sorted, so two
// digests are equal exactly when the stored state is. "" on error.
inline std::string StoreDigest(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "";
  }
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &st, nullptr);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  std::string all;
  for (const std::string& t : tables) {
    if (t == "audit") continue;
    std::vector<std::string> rows;
    std::string sql = "SELECT * FROM \"" + t + "\"";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      return "";
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const void* p = sqlite3_column_blob(st, c);
        int n = sqlite3_column_bytes(st, c);
        row += std::to_string(sqlite3_column_type(st, c)) + ":" + std::to_string(n) + ":";
        if (p != nullptr) row.append(static_cast<const char*>(p), static_cast<size_t>(n));
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    std::sort(rows.begin(), rows.end());
    all += "table " + t + "\n";
    for (const auto& r : rows) all += r + "\n";
  }
  sqlite3_close(db);
  return core::ToHex(core::Blake2b256(all));
}

// One variant of a message: `path` names the field replaced, `cbor` is the
// whole message encoded with the replacement.
struct Variant {
  std::string path;
  std::string key;  // the last object key on the path ("" inside an array)
  std::string cbor;
};

// Values of every CBOR/JSON kind, to put where another kind belongs.
inline std::vector<nlohmann::json> WrongValues() {
  using nlohmann::json;
  return {json(7),           json(-1),       json(1.5),          json("x"),
          json(true),        json(nullptr),  json::array(),      json::object(),
          json::binary({1, 2, 3}), json(UINT64_MAX), json::array({json::object()})};
}

inline bool SameKind(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number_integer() && b.is_number_integer()) return true;
  return a.type() == b.type();
}

// Every message obtained from `msg` (a decoded CBOR message) by replacing
// one value anywhere in it (any depth) with a value of another kind.
inline void WrongTypeVariants(const nlohmann::json& msg, nlohmann::json* root, nlohmann::json* at,
                              const std::string& path, const std::string& key,
                              std::vector<Variant>* out) {
  for (const nlohmann::json& w : WrongValues()) {
    if (at != root && !SameKind(*at, w)) {
      nlohmann::json saved = *at;
      *at = w;
      std::vector<uint8_t> v = nlohmann::json::to_cbor(*root);
      out->push_back({path, key, std::string(v.begin(), v.end())});
      *at = std::move(saved);
    }
  }
  if (at->is_object()) {
    for (auto& [k, v] : at->items()) WrongTypeVariants(msg, root, &v, path + "." + k, k, out);
  } else if (at->is_array()) {
    for (size_t i = 0; i < at->size(); ++i) {
      WrongTypeVariants(msg, root, &(*at)[i], path + "[" + std::to_string(i) + "]", "", out);
    }
  }
}

inline std::vector<Variant> WrongTypeVariants(const std::string& cbor) {
  nlohmann::json root = nlohmann::json::from_cbor(cbor, true, false);
  std::vector<Variant> out;
  if (root.is_discarded()) return out;
  WrongTypeVariants(root, &root, &root, "", "", &out);
  return out;
}

}  // namespace doorstep::sync::testing

#endif  // DOORSTEP_TESTS_SYNC_BAD_INPUT_UTIL_H_
