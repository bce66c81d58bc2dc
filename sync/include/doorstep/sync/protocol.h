// The sync protocol's messages (docs/sync.md, "Session"): one C++ struct per
// message, encoded as a CBOR map with a "t" (type) key.
//
// Encode() never fails. Decode() parses untrusted bytes: it never throws,
// caps every count, string length, nesting depth and total size, and returns
// kInvalidArgument naming the offending field when a message is malformed
// (kResourceExhausted when a count or size cap is hit).
//
// Field values (record fields, conflict values) are arbitrary JSON, carried as
// nlohmann::json; a JSON null means "absent". Times are milliseconds since the
// Unix epoch. Ids (mutation, record, conflict, device) are 32 lower-case hex
// characters; subject and practitioner ids are opaque tokens (see IsTokenId).
// Thread safety: values and pure functions; safe from any thread.
#ifndef DOORSTEP_SYNC_PROTOCOL_H_
#define DOORSTEP_SYNC_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/status.h"

namespace doorstep::sync {

// Protocol major version this build speaks. 2: compact keys, ids as 16-byte
// byte strings, defaults and empty arrays left out (docs/sync.md). `hello`
// keeps `t` and `v`, and `error` its protocol 1 form, so a device of either
// version hears `unsupported_version` from a server of the other.
inline constexpr int64_t kProtocolVersion = 2;

// Caps on the wire. A message breaking one is refused as a whole.
inline constexpr size_t kMaxMessageBytes = 16u << 20;       // one CBOR message
inline constexpr size_t kMaxPushBytes = 4u << 20;           // one push message
inline constexpr size_t kMaxMutationsPerPush = 256;
inline constexpr size_t kMaxRecordsPerBatch = 2000;
inline constexpr size_t kMaxConflictsPerBatch = 4000;
inline constexpr size_t kMaxPurgePerBatch = 10000;
inline constexpr size_t kMaxResultsPerPushed = kMaxMutationsPerPush;
inline constexpr size_t kMaxChangesPerMutation = 256;       // fields changed
inline constexpr size_t kMaxFieldsPerRecord = 256;
inline constexpr size_t kMaxFlags = 32;
inline constexpr size_t kMaxProblems = 256;
inline constexpr size_t kMaxConflictIdsPerResult = 256;
inline constexpr size_t kMaxTokenBytes = 64;                // subject, practitioner, type, flag
inline constexpr size_t kMaxPathBytes = 256;                // a field path
inline constexpr size_t kMaxHlcBytes = 96;               // core::kHlcMaxEncodedChars = 87
inline constexpr size_t kMaxTextBytes = 1024;               // reasons, messages
inline constexpr size_t kMaxValueDepth = 16;                // nesting inside a field value
inline constexpr size_t kMaxValueBytes = 1u << 20;          // string bytes in one value
inline constexpr size_t kMaxStringBytes = 1u << 20;         // any one CBOR string

// A 32-character lower-case hex id (128 bits).
bool IsHexId(std::string_view s);
// An opaque id token: 1..64 bytes of [A-Za-z0-9._:-].
bool IsTokenId(std::string_view s);

// One changed field of a mutation: value before this edit on the device and
// after it (null = absent / removed).
struct FieldChange {
  nlohmann::json from;
  nlohmann::json to;
  bool operator==(const FieldChange& o) const { return from == o.from && to == o.to; }
};

enum class MutationKind { kPut, kResolve };

// One frozen local write (docs/sync.md, "Revisions and mutations").
struct Mutation {
  std::string mutation_id;   // 32 hex, made by the device
  std::string record_id;     // 32 hex
  std::string type;          // record type, e.g. "visit_note"
  std::string subject_id;    // token
  int64_t base_rev = 0;      // server rev the device had; 0 = new record
  MutationKind kind = MutationKind::kPut;
  std::map<std::string, FieldChange> changes;  // field → {from, to}
  std::string status = "draft";                // "draft" | "final"
  std::optional<int64_t> amends;               // rev replaced (final records)
  std::vector<std::string> flags;
  int64_t schema_version = 1;
  std::string hlc;           // core::HlcStamp::Encode() (≤ 96 bytes here)
  int64_t created_at = 0;    // device time, ms
  int64_t updated_at = 0;    // device time, ms
  std::string author_id;     // token (the server stamps its own view)
  std::string device_id;     // 32 hex (the server stamps its own view)
  // kind == kResolve only:
  std::string conflict_id;   // 32 hex
  std::string path;          // field path of the conflict
  nlohmann::json value;      // the chosen / written value (null = remove)
};

enum class Outcome { kApplied, kMerged, kConflict, kRejected };
const char* OutcomeName(Outcome o);  // "applied", "merged", "conflict", "rejected"

// One validation problem (mirrors core schema problems).
struct Problem {
  std::string path;
  std::string code;     // required | type | range | rule | ...
  std::string message;
};

struct MutationResult {
  std::string id;                       // the mutation id
  Outcome outcome = Outcome::kApplied;
  int64_t rev = 0;                      // record rev after it (0 if rejected)
  std::vector<std::string> conflicts;   // conflict ids (outcome kConflict)
  std::string reason;                   // rejected: not_permitted | not_on_caseload | invalid | ...
  std::vector<Problem> problems;        // rejected as invalid: what is wrong
  // Set (the revision's server_received_at) only for an applied put whose
  // revision `rev` is the device's pushed record exactly, but for `rev` and
  // this time: the device records the revision itself and this session's
  // pulls leave it out (docs/sync.md, "No echo"). 0 otherwise.
  int64_t server_received_at = 0;
};

// A record as a device receives it: its head revision.
struct PulledRecord {
  std::string id;
  std::string type;
  std::string subject_id;
  int64_t rev = 0;
  std::string status = "draft";
  std::vector<std::string> flags;
  std::optional<int64_t> amends;
  bool deleted = false;
  std::string author_id;
  std::string device_id;
  int64_t schema_version = 1;
  std::string hlc;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t server_received_at = 0;
  int64_t base_rev = 0;
  nlohmann::json fields = nlohmann::json::object();
};

enum class ConflictState { kOpen, kResolved };

struct ConflictInfo {
  std::string conflict_id;
  std::string record_id;
  std::string subject_id;
  std::string type;             // record type
  std::string path;             // field path
  nlohmann::json base;          // the device's `from`
  nlohmann::json server;        // server value when it conflicted
  nlohmann::json device;        // the device's `to`
  std::string server_author;
  std::string device_author;
  int64_t server_time = 0;
  int64_t device_time = 0;
  int64_t base_rev = 0;
  ConflictState state = ConflictState::kOpen;
  nlohmann::json resolution;    // resolved value (null while open)
};

// ---- messages ----

struct Hello {
  int64_t v = kProtocolVersion;
  uint64_t since = 0;       // pull checkpoint
  uint64_t pending = 0;     // pending mutations on the device
  bool pull = false;        // nothing to push: answer welcome + first batch
  uint64_t max = 0;         // records per batch for that batch (0 = default)
  // The device records the revisions a push's answer says it holds
  // (MutationResult::server_received_at), so the server may leave them out
  // of the session's pulls. A device without it gets them back by pull.
  bool records_pushed = false;
};
struct Welcome {
  int64_t v = kProtocolVersion;
  std::string practitioner;
  std::string role;
  std::string device_id;    // the server's id for this device
  int64_t time = 0;         // server time, ms
};
struct Push { std::vector<Mutation> m; };
struct Pushed { std::vector<MutationResult> r; };
struct Pull {
  uint64_t since = 0;
  uint64_t max = 0;         // records per batch (0 = default; ≤ 2000)
};
struct Batch {
  std::vector<PulledRecord> records;
  // Records already encoded as CBOR maps of the `records` form (the server
  // splices stored payloads without re-encoding them); sent after `records`.
  // Decode never fills this.
  std::vector<std::string> raw_records;
  std::vector<ConflictInfo> conflicts;
  std::vector<std::string> purge;   // subject ids to purge on the device
  uint64_t checkpoint = 0;
  bool more = false;
};
struct Bye {};
// Error codes on the wire.
inline constexpr char kErrUnsupportedVersion[] = "unsupported_version";
inline constexpr char kErrRevoked[] = "revoked";
inline constexpr char kErrNotEnrolled[] = "not_enrolled";
inline constexpr char kErrBadMessage[] = "bad_message";
inline constexpr char kErrUnavailable[] = "unavailable";
inline constexpr char kErrInternal[] = "internal";
struct Error {
  std::string code;
  std::string message;
};

using Message = std::variant<Hello, Welcome, Push, Pushed, Pull, Batch, Bye, Error>;

// The "t" value of a message: "hello", "welcome", ...
const char* MessageTypeName(const Message& msg);

// Encodes to CBOR. Never fails. The rvalue overload moves a batch's record
// fields instead of copying them (`msg` is left valid but unspecified).
std::string Encode(const Message& msg);
std::string Encode(Message&& msg);

// Decodes one CBOR message. Fails with kInvalidArgument naming the field
// (e.g. "push.m[3].changes.purpose: too deep"), or kResourceExhausted when
// `bytes` is larger than kMaxMessageBytes or a count cap is exceeded.
Result<Message> Decode(std::string_view bytes);

// Decodes and requires type T. A wire Error message, when T is not Error,
// yields kFailedPrecondition carrying "<code>: <message>"; another type
// yields kInvalidArgument.
template <typename T>
Result<T> DecodeAs(std::string_view bytes) {
  Result<Message> msg = Decode(bytes);
  if (!msg.ok()) return msg.status();
  if (T* t = std::get_if<T>(&msg.value())) return std::move(*t);
  if (const Error* e = std::get_if<Error>(&msg.value())) {
    return FailedPreconditionError(e->code + ": " + e->message);
  }
  return InvalidArgumentError(std::string("unexpected message: ") + MessageTypeName(*msg));
}

// The payload of the Noise XX handshake's third message (device → server)
// when a device enrols: the one-time code and the device's own id (its
// store's 32-hex device id). An already enrolled device sends an empty payload.
struct EnrolRequest {
  std::string code;       // as `server enroll` printed it (≤ 64 bytes)
  std::string device_id;  // 32 hex
};
std::string EncodeEnrolRequest(const EnrolRequest& req);
// kInvalidArgument for anything but a well-formed request.
Result<EnrolRequest> DecodeEnrolRequest(std::string_view bytes);

// Checks a field value from an untrusted source: depth ≤ kMaxValueDepth, no
// binary, finite numbers, string bytes in total ≤ kMaxValueBytes.
// Returns kInvalidArgument naming `where`.
Status CheckValue(const nlohmann::json& value, std::string_view where);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_PROTOCOL_H_
