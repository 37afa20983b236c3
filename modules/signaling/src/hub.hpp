// The RTM hub (spec kwm-protocol.md §4): connections, users, channels, 1:1 calls, group rooms
// and their pairwise mesh, chats, guests' restrictions. Sans-I/O: messages come in as text,
// go out through a Sink. Thread: one (the net loop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "messages.hpp"
#include "palaver/signaling/live_rooms.hpp"

namespace palaver::signaling {

using ConnId = uint64_t;

/// Who is on a connection, as decided at rtm/connect.
struct Identity {
  std::string user_id;
  std::string name;
  std::string auth;          // the connect `auth` mode echo ("" or "1")
  bool guest = false;
  std::string guest_path;    // the one group a guest may take part in
  bool may_create = true;    // may open channels (call requests, first into a group); guests:
                             // HubOptions::guests_may_create decides, at the time of asking
  // The directory user behind the token and its session epoch then (empty for guests and users
  // of external issuers): the module disconnects the user when either changes.
  std::string directory_id;
  int64_t session_epoch = 0;
};

/// Where the hub's output goes.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Send(ConnId conn, std::string text) = 0;
  /// Close a connection (protocol abuse); OnClosed follows from the transport.
  virtual void Close(ConnId conn, int code, std::string reason) = 0;
};

/// What one connection and one user may hold in the hub (Finding 6 of issue 12: state that a
/// client creates is bounded). Value type; defaults as in [signaling] (see README).
struct HubLimits {
  size_t max_name_bytes = 512;            // group names and user ids a client names
  size_t max_groups_per_connection = 4;   // group rooms a connection is in at once
  size_t max_groups_per_user = 16;        // over all of a user's connections
  size_t max_calls_per_connection = 4;    // 1:1 call channels a connection is in at once
  size_t max_calls_per_user = 16;         // over all of a user's connections
};

struct HubOptions {
  std::string hmac_key;                       // 32 random bytes; hashes die with the process
  std::function<int64_t()> now;               // unix seconds
  std::function<std::string(size_t)> random;  // URL-safe random text of that many characters
  int max_bad_messages = 5;                   // invalid messages before the connection is closed
  std::function<bool()> guests_may_create;    // allow_guest_only_channels, read live (null: no)
  HubLimits limits;
};

/// The one spelling of a user id in both base64 alphabets: `+` as `-`, `/` as `_` (Meet names
/// callees in standard base64, our directory mints base64url; spec kwm-protocol.md §4.1).
std::string CanonicalUserId(std::string_view id);

struct HubStats {
  size_t connections = 0;
  size_t users = 0;
  size_t channels = 0;
  size_t guests = 0;
};

class Hub {
 public:
  Hub(Sink& sink, HubOptions options);

  /// A socket passed its upgrade: registers it and sends `hello`.
  void Open(ConnId conn, Identity identity);
  /// One text frame from a client.
  void Message(ConnId conn, std::string_view text);
  /// The socket is gone: leaves every channel (members are told), forgets the connection.
  void Closed(ConnId conn);
  /// Forgets channels without members older than 60 s (call every ~60 s). A safety net only:
  /// a channel is forgotten when its last member leaves.
  void Sweep();
  /// New limits for the next requests (reload); what is held already stays.
  void SetLimits(const HubLimits& limits) { options_.limits = limits; }
  /// Sends `goodbye` to everybody (orderly shutdown).
  void Goodbye();

  HubStats Stats() const;
  /// Every open channel with its members (group rooms by name first, then 1:1 calls).
  std::vector<LiveRoom> Rooms() const;
  uint64_t messages_in() const { return messages_in_; }
  uint64_t messages_out() const { return messages_out_; }
  uint64_t errors_sent() const { return errors_sent_; }

  /// base64(HMAC-SHA256(key, "webrtc" ‖ L(min(a,b)) ‖ L(max(a,b)) ‖ L(channel))), where L(x) is
  /// x preceded by its length as 8 bytes big-endian. kwmserver concatenates without lengths
  /// (spec §4.3), which makes ("ab","c") and ("a","bc") collide; the hash is opaque to clients
  /// (issued and checked by this server only, key random per process), so nothing else changes.
  std::string Hash(std::string_view a, std::string_view b, std::string_view channel) const;

 private:
  // What the hub keeps of an Identity for the connection's lifetime: not the directory id and
  // session epoch (the module watches those), nor `auth` (only the hello uses it), so that an
  // idle connection's entry is 72 bytes smaller.
  struct Who {
    std::string user_id;
    std::string name;
    std::string guest_path;
    bool guest = false;
    bool may_create = true;
  };
  struct Connection {
    Who who;
    std::set<std::string> channels;
    int bad_messages = 0;
  };
  struct Channel {
    std::string id;
    std::string group;  // empty for 1:1 channels
    int64_t created = 0;
    std::map<std::string, ConnId> members;  // user id -> the one connection in the channel
    // 1:1 channels: who called whom, and the callee's id as the caller spelled it (Meet uses
    // the standard-base64 form); what reaches the caller from the callee carries that spelling
    // as `source`, so that kwmjs finds its peer record.
    std::string caller, callee, callee_alias;
  };

  void Send(ConnId conn, std::string text);
  void Error(ConnId conn, uint64_t reply_to, std::string_view code, std::string_view msg);
  void Bad(ConnId conn, std::string_view why);
  void Webrtc(ConnId conn, Connection& c, const Incoming& m);
  void Call(ConnId conn, Connection& c, const Incoming& m);
  void Group(ConnId conn, Connection& c, const Incoming& m);
  void SignalOrHangup(ConnId conn, Connection& c, const Incoming& m);
  void Chats(ConnId conn, Connection& c, const Incoming& m);
  bool MayCreate(const Connection& c) const {
    return c.who.guest ? (options_.guests_may_create && options_.guests_may_create()) : c.who.may_create;
  }
  Channel* AuthorizedChannel(ConnId conn, const std::string& me, const Incoming& m, std::string_view empty_error);
  bool ValidHash(const Incoming& m, const std::string& source, const Channel& ch) const;
  Channel* FindChannel(const std::string& id);
  void Join(Channel& ch, const std::string& user, ConnId conn, Connection& c, bool notify_chats = true);
  // Removes `user` from `ch`; a channel left empty is forgotten (`ch` is then dangling).
  void Leave(Channel& ch, const std::string& user);
  // The online user a client means by `name` (exact, else the one user with that id in the
  // other base64 alphabet); `name` itself when there is none.
  std::string Resolve(const std::string& name) const;
  // The same within a channel: its members (and a 1:1 channel's callee) first.
  std::string ResolveIn(const Channel& ch, const std::string& name) const;
  // The `source` that `recipient` is to see for `sender` in `ch`.
  const std::string& SourceFor(const Channel& ch, const std::string& sender, const std::string& recipient) const;
  const std::string& UserOf(ConnId conn) const;
  // Channels of one kind ('*' calls, '@' groups) of a connection / of all of a user's
  // connections, not counting `except`.
  size_t Held(const Connection& c, char kind, const std::string& except = {}) const;
  size_t HeldByUser(const std::string& user, char kind, const std::string& except = {}) const;
  // Empty when `c` may enter one more channel of `kind`, else the error text.
  std::string OverLimit(const Connection& c, char kind, const std::string& except = {}) const;
  void GroupUpdate(const Channel& ch, const std::string& except_user);
  std::string Members(const Channel& ch) const;
  void SystemChat(const Channel& ch, const std::string& user, const std::string& name, bool joined);
  const std::string& NameOf(const std::string& user) const;

  Sink& sink_;
  HubOptions options_;
  std::unordered_map<ConnId, Connection> conns_;
  std::unordered_map<std::string, std::set<ConnId>> users_;
  std::unordered_map<std::string, std::set<std::string>> canonical_;  // CanonicalUserId -> users_ keys
  std::unordered_map<std::string, Channel> channels_;
  size_t guests_ = 0;  // guest connections (Stats is O(1): it runs after every message)
  uint64_t messages_in_ = 0;
  uint64_t messages_out_ = 0;
  uint64_t errors_sent_ = 0;
};

}  // namespace palaver::signaling
