#include "hub.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <optional>

#include "palaver/sdk/encoding.hpp"

namespace palaver::signaling {
namespace {

constexpr const char* kBadMessage = "bad_message";
constexpr size_t kMaxChatText = 16384;
constexpr size_t kMaxChatRichText = 18022;

bool IsBlank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

void AppendWithLength(std::string& out, std::string_view field) {
  uint64_t n = field.size();
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
  out += field;
}

// Hashes are secrets of the channel's parties: compared in constant time.
bool SameHash(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string CanonicalUserId(std::string_view id) {
  std::string out(id);
  for (char& ch : out) {
    if (ch == '+') ch = '-';
    if (ch == '/') ch = '_';
  }
  return out;
}

Hub::Hub(Sink& sink, HubOptions options) : sink_(sink), options_(std::move(options)) {}

std::string Hub::Hash(std::string_view a, std::string_view b, std::string_view channel) const {
  std::string input = "webrtc";
  AppendWithLength(input, std::min(a, b));
  AppendWithLength(input, std::max(a, b));
  AppendWithLength(input, channel);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), options_.hmac_key.data(), static_cast<int>(options_.hmac_key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return sdk::Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

void Hub::Send(ConnId conn, std::string text) {
  ++messages_out_;
  sink_.Send(conn, std::move(text));
}

void Hub::Error(ConnId conn, uint64_t reply_to, std::string_view code, std::string_view msg) {
  ++errors_sent_;
  Send(conn, ErrorMessage(reply_to, code, msg));
}

// Malformed input: an error, and after repeated offences the connection is closed (the Go
// server closes at once and silently; kwmjs reconnects either way).
void Hub::Bad(ConnId conn, std::string_view why) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Error(conn, 0, kBadMessage, why);
  if (++it->second.bad_messages >= options_.max_bad_messages) sink_.Close(conn, 1008, "too many invalid messages");
}

const std::string& Hub::NameOf(const std::string& user) const {
  static const std::string kEmpty;
  auto it = users_.find(user);
  if (it == users_.end() || it->second.empty()) return kEmpty;
  auto c = conns_.find(*it->second.begin());
  return c == conns_.end() ? kEmpty : c->second.who.name;
}

void Hub::Open(ConnId conn, Identity identity) {
  std::string hello = Hello(identity.user_id, identity.name, identity.auth);
  users_[identity.user_id].insert(conn);
  canonical_[CanonicalUserId(identity.user_id)].insert(identity.user_id);
  if (identity.guest) ++guests_;
  conns_[conn] = Connection{Who{std::move(identity.user_id), std::move(identity.name), std::move(identity.guest_path),
                                identity.guest, identity.may_create},
                            {}, 0};
  Send(conn, std::move(hello));
}

void Hub::Closed(ConnId conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  const std::string user = it->second.who.user_id;
  for (const auto& id : std::set<std::string>(it->second.channels)) {
    auto ch = channels_.find(id);
    if (ch == channels_.end()) continue;
    auto member = ch->second.members.find(user);
    if (member != ch->second.members.end() && member->second == conn) Leave(ch->second, user);
  }
  auto u = users_.find(user);
  if (u != users_.end()) {
    u->second.erase(conn);
    if (u->second.empty()) {
      users_.erase(u);
      auto canon = canonical_.find(CanonicalUserId(user));
      if (canon != canonical_.end()) {
        canon->second.erase(user);
        if (canon->second.empty()) canonical_.erase(canon);
      }
    }
  }
  if (it->second.who.guest) --guests_;
  conns_.erase(it);
}

void Hub::Sweep() {
  int64_t now = options_.now();
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (it->second.members.empty() && now - it->second.created > 60) {
      it = channels_.erase(it);
    } else {
      ++it;
    }
  }
}

void Hub::Goodbye() {
  for (const auto& [conn, c] : conns_) Send(conn, signaling::Goodbye());
}

HubStats Hub::Stats() const {
  HubStats s;
  s.connections = conns_.size();
  s.users = users_.size();
  s.channels = channels_.size();
  s.guests = guests_;
  return s;
}

std::vector<LiveRoom> Hub::Rooms() const {
  std::vector<LiveRoom> rooms;
  for (const auto& [id, ch] : channels_) {
    if (ch.members.empty()) continue;
    LiveRoom room{.group = ch.group};
    for (const auto& [user, conn] : ch.members) {
      auto c = conns_.find(conn);
      if (c == conns_.end()) continue;
      room.participants.push_back({.name = c->second.who.name, .guest = c->second.who.guest});
    }
    rooms.push_back(std::move(room));
  }
  std::sort(rooms.begin(), rooms.end(), [](const LiveRoom& a, const LiveRoom& b) {
    if (a.group.empty() != b.group.empty()) return !a.group.empty();
    return a.group < b.group;
  });
  return rooms;
}

Hub::Channel* Hub::FindChannel(const std::string& id) {
  auto it = channels_.find(id);
  return it == channels_.end() ? nullptr : &it->second;
}

std::string Hub::Resolve(const std::string& name) const {
  if (users_.count(name) != 0) return name;
  auto it = canonical_.find(CanonicalUserId(name));
  // Two online users whose ids differ only in the alphabet: no guessing.
  if (it != canonical_.end() && it->second.size() == 1) return *it->second.begin();
  return name;
}

std::string Hub::ResolveIn(const Channel& ch, const std::string& name) const {
  if (ch.members.count(name) != 0) return name;
  if (!ch.callee.empty() && (name == ch.callee_alias || name == ch.callee)) return ch.callee;
  std::string canon = CanonicalUserId(name);
  const std::string* found = nullptr;
  size_t matches = 0;
  for (const auto& [user, conn] : ch.members) {
    if (CanonicalUserId(user) == canon) {
      found = &user;
      ++matches;
    }
  }
  if (matches == 1) return *found;
  if (matches == 0 && !ch.callee.empty() && CanonicalUserId(ch.callee) == canon) return ch.callee;
  return Resolve(name);
}

const std::string& Hub::SourceFor(const Channel& ch, const std::string& sender, const std::string& recipient) const {
  if (!ch.callee.empty() && sender == ch.callee && recipient == ch.caller) return ch.callee_alias;
  return sender;
}

const std::string& Hub::UserOf(ConnId conn) const {
  static const std::string kNobody;
  auto it = conns_.find(conn);
  return it == conns_.end() ? kNobody : it->second.who.user_id;
}

size_t Hub::Held(const Connection& c, char kind, const std::string& except) const {
  return static_cast<size_t>(std::count_if(c.channels.begin(), c.channels.end(), [&](const std::string& id) {
    return !id.empty() && id[0] == kind && id != except;
  }));
}

size_t Hub::HeldByUser(const std::string& user, char kind, const std::string& except) const {
  size_t n = 0;
  auto it = users_.find(user);
  if (it == users_.end()) return 0;
  for (ConnId conn : it->second) {
    auto c = conns_.find(conn);
    if (c != conns_.end()) n += Held(c->second, kind, except);
  }
  return n;
}

std::string Hub::OverLimit(const Connection& c, char kind, const std::string& except) const {
  const HubLimits& l = options_.limits;
  bool call = kind == '*';
  if (Held(c, kind, except) >= (call ? l.max_calls_per_connection : l.max_groups_per_connection)) {
    return call ? "too many calls on this connection" : "too many groups on this connection";
  }
  if (HeldByUser(c.who.user_id, kind, except) >= (call ? l.max_calls_per_user : l.max_groups_per_user)) {
    return call ? "too many calls for this user" : "too many groups for this user";
  }
  return {};
}

void Hub::Message(ConnId conn, std::string_view text) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  ++messages_in_;
  auto parsed = ParseIncoming(text);
  if (!parsed) return Bad(conn, parsed.error().public_message);
  Incoming& m = *parsed;
  Connection& c = it->second;
  if (m.type == "ping") return Send(conn, Pong(m));
  if (m.type == "webrtc") return Webrtc(conn, c, m);
  if (m.type == "chats") return Chats(conn, c, m);
  Bad(conn, "unknown type");
}

void Hub::Webrtc(ConnId conn, Connection& c, const Incoming& m) {
  // Guests take part in their one group only, whatever the subtype (spec §4.7).
  if (c.who.guest && (m.group.empty() || m.group != c.who.guest_path)) {
    return Error(conn, m.id, "access_restricted", "access denied");
  }
  if (m.has_profile) return Error(conn, m.id, kBadMessage, "profile cannot be set by client");
  // Names are stored (channels, members); Meet's are short.
  if (m.target.size() > options_.limits.max_name_bytes) return Error(conn, m.id, kBadMessage, "target is too long");
  if (m.group.size() > options_.limits.max_name_bytes) return Error(conn, m.id, kBadMessage, "group is too long");
  if (m.subtype == "webrtc_call") return Call(conn, c, m);
  if (m.subtype == "webrtc_group") return Group(conn, c, m);
  if (m.subtype == "webrtc_signal" || m.subtype == "webrtc_hangup") return SignalOrHangup(conn, c, m);
  Error(conn, m.id, kBadMessage, "unknown subtype");
}

// The channel of an answer, signal or hangup, after the spec's checks (an error is sent and
// null returned when one fails). `empty_error` is kwmserver's text, which differs by subtype.
Hub::Channel* Hub::AuthorizedChannel(ConnId conn, const std::string& me, const Incoming& m, std::string_view empty_error) {
  auto fail = [&](std::string_view msg) -> Channel* {
    Error(conn, m.id, kBadMessage, msg);
    return nullptr;
  };
  if (m.channel.empty() || m.hash.empty() || !m.has_data) return fail(empty_error);
  Channel* ch = FindChannel(m.channel);
  if (ch == nullptr) return fail("channel not found");
  if (!m.group.empty() && ch->group != m.group) return fail("invalid channel for group");
  if (m.group.empty() && m.target.empty()) return fail("missing target");
  if (!sdk::Base64Decode(m.hash)) return fail("hash decode error");
  if (!ValidHash(m, me, *ch)) return fail("invalid hash");
  return ch;
}

bool Hub::ValidHash(const Incoming& m, const std::string& source, const Channel& ch) const {
  if (m.hash.empty()) return false;
  auto decoded = sdk::Base64Decode(m.hash);
  if (!decoded) return false;
  std::string target = ResolveIn(ch, m.target);
  if (!m.group.empty()) {
    return SameHash(m.hash, Hash(source, m.group, ch.id)) || SameHash(m.hash, Hash(source, target, ch.id));
  }
  return SameHash(m.hash, Hash(source, target, ch.id));
}

void Hub::Call(ConnId conn, Connection& c, const Incoming& m) {
  const std::string& me = c.who.user_id;
  if (m.target.empty()) return Error(conn, m.id, kBadMessage, "target is empty");
  if (m.target == me || Resolve(m.target) == me) return Error(conn, m.id, kBadMessage, "target same as source");
  if (m.state.empty()) return Error(conn, m.id, kBadMessage, "state is empty");
  if (!m.source.empty()) return Error(conn, m.id, kBadMessage, "source must be empty");

  if (m.initiator) {
    // A call request: a new 1:1 channel; every connection of the callee rings. Never from a
    // guest, whatever group it names (guests only take part in their room).
    if (c.who.guest) return Error(conn, m.id, "access_restricted", "access denied");
    if (!m.channel.empty() || !m.hash.empty()) return Error(conn, m.id, kBadMessage, "channel and hash must be empty");
    if (m.has_data) return Error(conn, m.id, kBadMessage, "data must be empty");
    if (!MayCreate(c)) return Error(conn, m.id, "create_restricted", "access denied");
    if (std::string over = OverLimit(c, '*'); !over.empty()) return Error(conn, m.id, kBadMessage, over);
    // Meet names the callee in standard base64, the directory mints base64url: either finds them.
    std::string callee_id = Resolve(m.target);
    Channel ch;
    ch.id = "*" + options_.random(32);
    ch.created = options_.now();
    ch.caller = me;
    ch.callee = callee_id;
    ch.callee_alias = m.target;
    std::string id = ch.id;
    auto& stored = channels_[id] = std::move(ch);
    Join(stored, me, conn, c);
    std::string hash = Hash(me, callee_id, id);
    OutWebrtc reply{.subtype = "webrtc_channel", .reply_to = m.id, .channel = id, .hash = hash};
    Send(conn, Serialize(reply));
    auto callee = users_.find(callee_id);
    if (callee == users_.end()) {
      // Not online. kwmserver (before v0.12) answered so, without reply_to (its reply went out
      // first); Meet ignores this code, other clients learn that nothing rings.
      return Error(conn, 0, "no_session_for_user", "target not found");
    }
    OutWebrtc ring{.subtype = "webrtc_call", .target = m.target, .source = me, .state = m.state, .channel = id,
                   .hash = hash, .transaction = m.transaction, .initiator = true, .profile_name = c.who.name,
                   .v = m.v ? m.v : kWebrtcVersion};
    std::string text = Serialize(ring);
    for (ConnId target : std::set<ConnId>(callee->second)) Send(target, text);
    return;
  }

  // An answer: to a ringing 1:1 call, or a member's accept towards a peer in a group.
  Channel* ch = AuthorizedChannel(conn, me, m, "channel, hash or data is empty");
  if (ch == nullptr) return;
  auto data = ParseCallData(m);
  if (!data) return Error(conn, m.id, kBadMessage, "invalid data");
  const std::string target = ResolveIn(*ch, m.target);

  OutWebrtc out{.subtype = "webrtc_call", .target = m.target, .source = me, .state = m.state, .channel = ch->id,
                .group = m.group, .hash = m.hash, .transaction = m.transaction, .pcid = m.pcid,
                .initiator = false, .profile_name = c.who.name, .data_json = m.data_json,
                .v = m.v ? m.v : kWebrtcVersion};
  if (!m.group.empty()) {
    if (!data->accept) return Error(conn, m.id, kBadMessage, "accept required for group call");
    // Both peers adopt the symmetric pair hash for their signals from here on.
    out.hash = Hash(me, target, ch->id);
    auto peer = ch->members.find(target);
    if (peer != ch->members.end()) Send(peer->second, Serialize(out));
    return;
  }
  if (data->accept) {
    if (ch->members.count(me) == 0) {
      if (std::string over = OverLimit(c, '*'); !over.empty()) return Error(conn, m.id, kBadMessage, over);
    }
    Join(*ch, me, conn, c);
    // The callee's other devices stop ringing.
    auto mine = users_.find(me);
    if (mine != users_.end()) {
      OutWebrtc cleared{.subtype = "webrtc_call", .target = "", .source = m.target, .channel = ch->id,
                        .initiator = true};
      std::string text = Serialize(cleared);
      for (ConnId other : mine->second) {
        if (other != conn) Send(other, text);
      }
    }
  } else if (data->reason == "reject_busy") {
    // Busy on one device does not abort the call while another device may still answer.
    auto mine = users_.find(me);
    if (mine != users_.end() && mine->second.size() > 1) return;
  }
  auto caller = ch->members.find(target);
  if (caller != ch->members.end()) {
    out.source = SourceFor(*ch, me, target);
    Send(caller->second, Serialize(out));
  }
}

void Hub::Group(ConnId conn, Connection& c, const Incoming& m) {
  const std::string& me = c.who.user_id;
  if (m.target.empty()) return Error(conn, m.id, kBadMessage, "target is empty");
  if (m.target != m.group) return Error(conn, m.id, kBadMessage, "target and group mismatch");
  if (m.state.empty()) return Error(conn, m.id, kBadMessage, "state is empty");
  if (!m.source.empty()) return Error(conn, m.id, kBadMessage, "source must be empty");
  std::string id = "@" + m.group;
  Channel* ch = FindChannel(id);
  if ((ch == nullptr || ch->members.empty()) && !MayCreate(c)) {
    // A guest waits for a registered member (or any member) unless guest-only rooms are allowed.
    return Error(conn, m.id, "create_restricted", "access denied");
  }
  if (c.channels.count(id) == 0) {
    // Rejoining the room from another device replaces that device's place: not one more.
    if (std::string over = OverLimit(c, '@', id); !over.empty()) return Error(conn, m.id, kBadMessage, over);
  }
  if (ch == nullptr) {
    Channel fresh;
    fresh.id = id;
    fresh.group = m.group;
    fresh.created = options_.now();
    ch = &(channels_[id] = std::move(fresh));
  }
  Join(*ch, me, conn, c);
  OutWebrtc reply{.subtype = "webrtc_channel", .reply_to = m.id, .channel = id, .hash = Hash(me, m.group, id),
                  .data_json = "{\"group\":{\"group\":" + Quoted(m.group) + ",\"members\":" + Members(*ch) +
                               ",\"reset\":true}}"};
  Send(conn, Serialize(reply));
}

void Hub::SignalOrHangup(ConnId conn, Connection& c, const Incoming& m) {
  const std::string& me = c.who.user_id;
  if (m.state.empty()) return Error(conn, m.id, kBadMessage, "state is empty");
  if (!m.source.empty()) return Error(conn, m.id, kBadMessage, "source must be empty");
  Channel* ch = AuthorizedChannel(conn, me, m, "channel hash or data is empty");
  if (ch == nullptr) return;
  const std::string target = ResolveIn(*ch, m.target);
  OutWebrtc out{.subtype = m.subtype, .target = m.target, .source = SourceFor(*ch, me, target), .state = m.state,
                .channel = ch->id, .group = m.group, .hash = m.hash, .transaction = m.transaction, .pcid = m.pcid,
                .data_json = m.data_json, .v = m.v ? m.v : kWebrtcVersion};
  std::string text = Serialize(out);
  auto peer = ch->members.find(target);
  if (m.subtype == "webrtc_signal") {
    if (peer != ch->members.end()) Send(peer->second, std::move(text));
    return;  // a target outside the channel: dropped (no presence leak)
  }
  // Hangup: the sender leaves (the channel is forgotten when it was the last one); the peer
  // hears it in the channel, or on every device while the call was still ringing.
  bool one_to_one = ch->group.empty();
  std::optional<ConnId> peer_conn;
  if (peer != ch->members.end() && target != me) peer_conn = peer->second;
  auto mine = ch->members.find(me);
  bool left = mine != ch->members.end() && mine->second == conn;
  if (left) Leave(*ch, me);  // `ch` is gone now unless the peer is in it
  if (peer_conn) {
    Send(*peer_conn, std::move(text));
    // A 1:1 call ends for both when one hangs up: the peer leaves too (and the channel goes).
    // Meet and kwmjs send nothing after the peer's hangup, so the peer's place would otherwise
    // stay until its connection closed, counted against max_calls_per_connection: a tab whose
    // calls the other side ended was refused its fifth (found by bench/soak.sh).
    if (one_to_one && left) Leave(*ch, target);
  } else if (one_to_one) {
    auto devices = users_.find(target);
    if (devices != users_.end()) {
      for (ConnId other : devices->second) Send(other, text);
    }
  }
}

void Hub::Join(Channel& ch, const std::string& user, ConnId conn, Connection& c, bool notify_chats) {
  auto existing = ch.members.find(user);
  bool replaced = existing != ch.members.end() && existing->second != conn;
  if (existing != ch.members.end() && existing->second == conn) return;
  if (replaced) {
    ConnId old = existing->second;
    auto oc = conns_.find(old);
    if (oc != conns_.end()) oc->second.channels.erase(ch.id);
    if (!ch.group.empty()) {
      OutWebrtc note{.subtype = "webrtc_channel", .channel = ch.id, .data_json = "{\"replaced\":true}"};
      Send(old, Serialize(note));
    }
  }
  ch.members[user] = conn;
  c.channels.insert(ch.id);
  if (!ch.group.empty()) GroupUpdate(ch, user);
  if (!replaced && notify_chats) SystemChat(ch, user, c.who.name, true);
}

void Hub::Leave(Channel& ch, const std::string& user) {
  auto it = ch.members.find(user);
  if (it == ch.members.end()) return;
  ConnId conn = it->second;
  ch.members.erase(it);
  std::string name;
  if (auto c = conns_.find(conn); c != conns_.end()) {
    c->second.channels.erase(ch.id);
    name = c->second.who.name;
  }
  if (!ch.group.empty()) GroupUpdate(ch, user);
  SystemChat(ch, user, name, false);
  // Nobody left: nothing to keep (kwmserver kept it until a 60 s sweep; the health and the
  // channel gauge then counted rooms that everybody had left).
  if (ch.members.empty()) {
    std::string id = ch.id;  // not a reference into the node being erased
    channels_.erase(id);
  }
}

std::string Hub::Members(const Channel& ch) const {
  std::string out = "[";
  for (const auto& [user, conn] : ch.members) out += (out.size() > 1 ? "," : "") + Quoted(user);
  return out + "]";
}

void Hub::GroupUpdate(const Channel& ch, const std::string& except_user) {
  OutWebrtc update{.subtype = "webrtc_channel", .channel = ch.id,
                   .data_json = "{\"group\":{\"group\":" + Quoted(ch.group) + ",\"members\":" + Members(ch) +
                                ",\"reset\":false}}"};
  std::string text = Serialize(update);
  for (const auto& [user, conn] : ch.members) {
    if (user != except_user) Send(conn, text);
  }
}

void Hub::SystemChat(const Channel& ch, const std::string& user, const std::string& name, bool joined) {
  if (ch.members.empty()) return;
  OutChat chat{.subtype = "chats_system", .channel = ch.id, .profile_name = name, .kind = "system", .sender = user,
               .text = name + (joined ? " has joined the meeting." : " has left the meeting."),
               .id = options_.random(16), .extra_id = joined ? "joined" : "left"};
  chat.ts = options_.now();
  std::string text = Serialize(chat);
  for (const auto& [member, conn] : ch.members) {
    if (member == user) continue;
    const std::string& sender = SourceFor(ch, user, member);
    if (sender == user) {
      Send(conn, text);
    } else {
      OutChat spelled = chat;  // the caller knows the callee by the name it called
      spelled.sender = sender;
      Send(conn, Serialize(spelled));
    }
  }
}

void Hub::Chats(ConnId conn, Connection& c, const Incoming& m) {
  auto fail = [&](std::string_view msg) { Error(conn, m.id, kBadMessage, msg); };
  if (m.subtype != "chats_message") return fail("unknown subtype");
  if (m.channel.empty() || !m.has_data) return fail("channel or data is empty");
  Channel* ch = FindChannel(m.channel);
  if (ch == nullptr) return fail("channel not found");
  auto member = ch->members.find(c.who.user_id);
  if (member == ch->members.end() || member->second != conn) return fail("connection not in channel");
  if (!m.data) return fail("message data parse error");
  const auto& d = *m.data;
  auto str = [&d](const char* key, std::string& into) {
    if (!d.has(key) || d.get(key).isEmpty()) return true;
    if (!d.get(key).isString()) return false;
    into = d.get(key).extract<std::string>();
    return true;
  };
  std::string kind, sender, target, text, rich;
  if (!str("kind", kind) || !str("sender", sender) || !str("target", target) || !str("text", text) ||
      !str("richText", rich)) {
    return fail("message data parse error");
  }
  if (!sender.empty()) return fail("message sender must be empty");
  if (!target.empty()) return fail("message target must be empty");
  if (!kind.empty()) return fail("unknown message kind");
  if (text.size() > kMaxChatText) return fail("message text size limit exceeded");
  if (rich.size() > kMaxChatRichText) return fail("message rich text size limit exceeded");
  if (IsBlank(text)) return fail("message text is empty");
  if (d.has("extra")) return fail("message contains unexpected extra data");
  OutChat out{.subtype = "chats_message", .channel = ch->id, .kind = "", .sender = c.who.user_id, .text = text,
              .rich_text = rich, .id = options_.random(16)};
  out.ts = options_.now();
  OutChat reply = out;
  reply.reply_to = m.id;
  Send(conn, Serialize(reply));
  out.profile_name = c.who.name;
  std::string shared = Serialize(out);
  for (const auto& [user, other] : ch->members) {
    if (other == conn) continue;
    const std::string& sender = SourceFor(*ch, c.who.user_id, user);
    if (sender == c.who.user_id) {
      Send(other, shared);
    } else {
      OutChat spelled = out;
      spelled.sender = sender;
      Send(other, Serialize(spelled));
    }
  }
  OutChat queued{.subtype = "chats_system", .channel = ch->id, .kind = "delivery_queued", .id = out.id};
  Send(conn, Serialize(queued));
}

}  // namespace palaver::signaling
