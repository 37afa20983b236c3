#!/usr/bin/env python3
"""Writes corpus/ for signaling_fuzz.cpp: the RTM conversations of spec kwm-protocol.md §3-§6 (the
messages kwmjs / the Meet app send, as recorded by tests/node's signaling clients), one file per
conversation. Record format: '<conn digit><text frame>' per line; '@H'/'@C' stand for the last
hash/channel the hub sent to that connection; '!<n>' reconnects, '~' sweeps."""
import json
import os

V = 20180703
here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus")


def w(d):
    return json.dumps(d, separators=(",", ":"))


def call(id_, target, state, **kw):
    m = {"type": "webrtc", "subtype": "webrtc_call", "id": id_, "target": target, "initiator": True,
         "state": state, "channel": "", "group": "", "hash": "", "transaction": "", "v": V}
    m.update(kw)
    return w(m)


conversations = {
    "ping": ["0" + w({"id": 1, "ts": 1700000000000, "type": "ping"}), "1" + w({"type": "ping", "id": 2})],
    "call_accept_signal_hangup": [
        "0" + call(5, "carol", "sA"),
        "2" + w({"type": "webrtc", "subtype": "webrtc_call", "id": 9, "target": "alice", "initiator": False,
                 "state": "sB", "channel": "@C", "group": "", "hash": "@H", "transaction": "",
                 "data": {"accept": True, "state": "sA"}, "v": V}),
        "2" + w({"type": "webrtc", "subtype": "webrtc_signal", "id": 10, "target": "alice", "state": "sB",
                 "channel": "@C", "group": "", "hash": "@H", "pcid": "pc1",
                 "data": {"sdp": {"type": "offer", "sdp": "v=0\r\n"}}, "v": V}),
        "0" + w({"type": "webrtc", "subtype": "webrtc_signal", "id": 6, "target": "carol", "state": "sA",
                 "channel": "@C", "hash": "@H", "pcid": "pc2", "data": {"candidate": {"candidate": "c"}}, "v": V}),
        "0" + w({"type": "webrtc", "subtype": "webrtc_hangup", "id": 7, "target": "carol", "channel": "@C",
                 "hash": "@H", "v": V}),
    ],
    "call_reject": [
        "1" + call(1, "alice", "x"),
        "0" + w({"type": "webrtc", "subtype": "webrtc_call", "id": 2, "target": "Ym9i+/x", "initiator": False,
                 "state": "y", "channel": "@C", "hash": "@H", "data": {"accept": False, "reason": "reject"}, "v": V}),
    ],
    "group_chat": [
        "0" + w({"type": "webrtc", "subtype": "webrtc_group", "id": 3, "target": "group/team", "group": "group/team",
                 "initiator": False, "state": "s0", "channel": "", "hash": "", "transaction": "", "v": V}),
        "1" + w({"type": "webrtc", "subtype": "webrtc_group", "id": 3, "target": "group/team", "group": "group/team",
                 "initiator": False, "state": "s1", "v": V}),
        "1" + w({"type": "webrtc", "subtype": "webrtc_call", "id": 4, "target": "alice", "initiator": False,
                 "state": "group/team", "channel": "@C", "group": "group/team", "hash": "@H", "transaction": "",
                 "data": {"accept": True, "state": "group/team"}, "v": V}),
        "0" + w({"type": "chats", "subtype": "chats_message", "id": 12, "channel": "@C", "transaction": "",
                 "v": 20201201, "data": {"kind": "", "sender": "", "target": "", "id": "c1", "text": "hello",
                                         "richText": "<b>hello</b>"}}),
        "~",
        "!1",
    ],
    "guest": [
        "3" + w({"type": "webrtc", "subtype": "webrtc_group", "id": 1, "target": "public/room",
                 "group": "public/room", "state": "g", "v": V}),
        "0" + w({"type": "webrtc", "subtype": "webrtc_group", "id": 1, "target": "public/room",
                 "group": "public/room", "state": "a", "v": V}),
        "3" + w({"type": "webrtc", "subtype": "webrtc_group", "id": 2, "target": "group/other",
                 "group": "group/other", "state": "g", "v": V}),
    ],
    "bad": ["0[]", "0{\"type\":1}", "0{\"type\":\"webrtc\",\"id\":-1}", "0{\"type\":\"webrtc\",\"id\":1.5}",
            "0{\"type\":\"nope\"}", "0not json", "0{\"type\":\"webrtc\",\"initiator\":\"yes\"}"],
}

os.makedirs(out, exist_ok=True)
for name, lines in conversations.items():
    with open(os.path.join(out, name), "w") as f:
        f.write("\n".join(lines))
