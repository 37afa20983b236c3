// kwm RTM messages (spec kwm-protocol.md §3): parsing what clients send and writing what the
// server sends. Sans-I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/JSON/Object.h>

#include "palaver/sdk/status.hpp"

namespace palaver::signaling {

inline constexpr uint64_t kWebrtcVersion = 20180703;
inline constexpr uint64_t kChatsVersion = 20201201;

/// A client message, decoded. Field names as on the wire.
struct Incoming {
  std::string type;      // ping, webrtc, chats
  std::string subtype;
  uint64_t id = 0;
  uint64_t v = 0;
  std::string target, source, state, channel, group, hash, transaction, pcid;
  bool initiator = false;
  bool has_profile = false;
  bool has_data = false;         // the key is present (even `null`)
  std::string data_json;         // `data` re-serialized (opaque; forwarded)
  Poco::JSON::Object::Ptr data;  // `data` when it is an object
  Poco::JSON::Object::Ptr raw;   // the whole message (ping echo)
};

/// Parses one text frame. Errors (kInvalidArgument) for non-JSON, non-objects, a missing or
/// non-string `type`, and known fields of the wrong JSON type (the Go server closes the socket
/// for these; we answer with an error first).
Result<Incoming> ParseIncoming(std::string_view text);

/// The accept/reject object in `data` of call answers and hangups.
struct CallData {
  bool accept = false;
  std::string state;
  std::string reason;
};
std::optional<CallData> ParseCallData(const Incoming& message);

/// Writes a `webrtc` message. Empty strings are written for target/source (always present, as
/// the Go server does); `group`, `transaction`, `pcid`, `hash`, `channel` only when non-empty.
struct OutWebrtc {
  std::string subtype;
  uint64_t reply_to = 0;
  std::string target, source, state, channel, group, hash, transaction, pcid;
  bool initiator = false;
  std::optional<std::string> profile_name;
  std::optional<std::string> data_json;
  uint64_t v = kWebrtcVersion;
};
std::string Serialize(const OutWebrtc& message);

/// `{"type":"error","reply_to":n,"error":{"code":..,"msg":..}}` (`reply_to` omitted when 0).
std::string ErrorMessage(uint64_t reply_to, std::string_view code, std::string_view msg);
/// The pong: the ping object with `type` set to "pong" (everything else echoed).
std::string Pong(const Incoming& ping);
std::string Hello(std::string_view user_id, std::string_view name, std::string_view auth);
std::string Goodbye();

/// A chats message (`chats_message` / `chats_system`).
struct OutChat {
  std::string subtype;
  uint64_t reply_to = 0;
  std::string channel;
  std::optional<std::string> profile_name;
  std::string kind, sender, target, text, rich_text, id, extra_id;
  int64_t ts = 0;
};
std::string Serialize(const OutChat& message);

/// Quotes a string as a JSON string literal.
std::string Quoted(std::string_view s);

}  // namespace palaver::signaling
