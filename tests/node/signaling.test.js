// Signaling against the real palaverd with a real WebSocket client (`ws`), users signed in
// through the OpenID provider: 1:1 calls, a group of four, guests and policy, bad input.
// Run by tests/integration/test_signaling.py (env: PALAVER_ISS, NODE_EXTRA_CA_CERTS; users
// anna, bert, carl, dora with password "<name>-secret", admin "root"/"root-secret").
'use strict';

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { request, signIn, signInGuest, rtmConnect, Rtm } = require('./lib/palaver');

const iss = process.env.PALAVER_ISS;
const tokens = {};
const V = 20180703;

after(() => Rtm.closeAll());

before(async () => {
  for (const u of ['anna', 'bert', 'carl', 'dora']) tokens[u] = await signIn(iss, u, `${u}-secret`);
  tokens.root = await signIn(iss, 'root', 'root-secret');
});

async function setSetting(key, value, who = 'root') {
  const res = await request('PUT', `${iss}/admin/api/v1/settings/${key}`, {
    body: JSON.stringify({ value }),
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokens[who].access_token}` },
  });
  return res;
}

const isWebrtc = (subtype, extra = () => true) => (m) => m.type === 'webrtc' && m.subtype === subtype && extra(m);

test('connect answers with a one-time WebSocket path and hello names the user', async () => {
  const res = await rtmConnect(iss, tokens.anna);
  assert.equal(res.status, 200);
  const body = JSON.parse(res.body);
  assert.equal(body.ok, true);
  assert.match(body.url, /^\/api\/kwm\/v2\/rtm\/websocket\/[A-Za-z0-9_-]{32}$/);
  assert.equal(body.self.name, 'Anna');
  assert.deepEqual(body.server_status, {});
  assert.equal(res.headers['access-control-allow-origin'], '*');
  const a = await Rtm.open(iss, tokens.anna);
  assert.equal(a.hello.type, 'hello');
  assert.equal(a.hello.self.name, 'Anna');
  assert.ok(a.hello.self.id.length > 0);
  // The client's 5 s application ping is answered at once with everything echoed.
  const id = a.send({ type: 'ping', ts: 1234 });
  const pong = await a.next((m) => m.type === 'pong', 2000, 'pong');
  assert.deepEqual(pong, { id, ts: 1234, type: 'pong' });
  a.close();
});

test('1:1 call: ring every device, accept, clear the other device, signal, hang up', async () => {
  const a = await Rtm.open(iss, tokens.anna);
  const b1 = await Rtm.open(iss, tokens.bert);
  const b2 = await Rtm.open(iss, tokens.bert);  // Bert's second device
  const A = a.hello.self.id;
  const B = b1.hello.self.id;
  const callId = a.send({ type: 'webrtc', subtype: 'webrtc_call', target: B, initiator: true, state: 'sA', channel: '',
                          group: '', hash: '', transaction: '', v: V });
  const channel = await a.next(isWebrtc('webrtc_channel', (m) => m.reply_to === callId), 2000, 'call channel');
  assert.match(channel.channel, /^\*/);
  assert.ok(channel.hash);
  assert.equal(channel.v, V);
  for (const b of [b1, b2]) {
    const ring = await b.next(isWebrtc('webrtc_call'), 2000, 'ring');
    assert.equal(ring.source, A);
    assert.equal(ring.initiator, true);
    assert.equal(ring.channel, channel.channel);
    assert.equal(ring.hash, channel.hash);
    assert.deepEqual(ring.profile, { name: 'Anna' });
    assert.equal(ring.id, undefined);
  }
  b1.send({ type: 'webrtc', subtype: 'webrtc_call', target: A, initiator: false, state: 'sB', channel: channel.channel,
            group: '', hash: channel.hash, transaction: '', data: { accept: true, state: 'sA' }, v: V });
  const answer = await a.next(isWebrtc('webrtc_call', (m) => m.source === B), 2000, 'answer');
  assert.deepEqual(answer.data, { accept: true, state: 'sA' });
  assert.deepEqual(answer.profile, { name: 'Bert' });
  assert.equal(answer.hash, channel.hash);
  const cleared = await b2.next(isWebrtc('webrtc_call', (m) => m.target === ''), 2000, 'cleared call');
  assert.equal(cleared.source, A);
  // Signals both ways with the call hash (the offer from the greater id, the noop kick from the other).
  a.send({ type: 'webrtc', subtype: 'webrtc_signal', target: B, state: 'sA', channel: channel.channel, group: '',
           hash: channel.hash, pcid: 'pcA', data: { type: 'offer', sdp: 'v=0 fake' }, v: V });
  const offer = await b1.next(isWebrtc('webrtc_signal'), 2000, 'signal to B');
  assert.deepEqual(offer.data, { type: 'offer', sdp: 'v=0 fake' });
  assert.equal(offer.source, A);
  assert.equal(offer.pcid, 'pcA');
  b1.send({ type: 'webrtc', subtype: 'webrtc_signal', target: A, state: 'sB', channel: channel.channel, group: '',
            hash: channel.hash, pcid: 'pcB', data: { renegotiate: true, noop: true }, v: V });
  await a.next(isWebrtc('webrtc_signal', (m) => m.source === B), 2000, 'signal to A');
  await b2.none(isWebrtc('webrtc_signal'));  // the other device is out of the call
  // A forged hash is refused with the spec's error.
  const forged = a.send({ type: 'webrtc', subtype: 'webrtc_signal', target: B, state: 'sA', channel: channel.channel,
                          group: '', hash: 'AAAA', data: {}, v: V });
  const err = await a.next((m) => m.type === 'error' && m.reply_to === forged, 2000, 'invalid hash');
  assert.deepEqual(err.error, { code: 'bad_message', msg: 'invalid hash' });
  a.send({ type: 'webrtc', subtype: 'webrtc_hangup', target: B, state: 'sA', channel: channel.channel, group: '',
           hash: channel.hash, data: { accept: false, reason: 'hangup', state: 'sB' }, v: V });
  const hangup = await b1.next(isWebrtc('webrtc_hangup'), 2000, 'hangup');
  assert.equal(hangup.data.reason, 'hangup');
  for (const c of [a, b1, b2]) c.close();
});

test('a busy device does not abort the call; a plain reject does', async () => {
  const a = await Rtm.open(iss, tokens.anna);
  const b1 = await Rtm.open(iss, tokens.bert);
  const b2 = await Rtm.open(iss, tokens.bert);
  const A = a.hello.self.id;
  const B = b1.hello.self.id;
  const id = a.send({ type: 'webrtc', subtype: 'webrtc_call', target: B, initiator: true, state: 'sA', v: V });
  const ch = await a.next(isWebrtc('webrtc_channel', (m) => m.reply_to === id));
  await b1.next(isWebrtc('webrtc_call'));
  await b2.next(isWebrtc('webrtc_call'));
  const reply = (b, reason) => b.send({ type: 'webrtc', subtype: 'webrtc_call', target: A, initiator: false, state: 'sB',
                                        channel: ch.channel, hash: ch.hash, data: { accept: false, reason, state: 'sA' }, v: V });
  reply(b1, 'reject_busy');
  await a.none(isWebrtc('webrtc_call'));
  reply(b2, 'reject');
  const rejected = await a.next(isWebrtc('webrtc_call', (m) => m.source === B));
  assert.equal(rejected.data.reason, 'reject');
  for (const c of [a, b1, b2]) c.close();
});

test('a group of four joins, meshes pairwise with symmetric hashes, and leaves', async () => {
  const names = ['anna', 'bert', 'carl', 'dora'];
  const group = `group/team-${Date.now()}`;
  const clients = [];
  const groupHash = {};
  for (const n of names) {
    const c = await Rtm.open(iss, tokens[n]);
    c.name = n;
    const id = c.send({ type: 'webrtc', subtype: 'webrtc_group', target: group, group, initiator: false, state: 'j',
                        channel: '', hash: '', transaction: '', v: V });
    const reply = await c.next(isWebrtc('webrtc_channel', (m) => m.reply_to === id), 2000, `${n} join reply`);
    assert.equal(reply.channel, `@${group}`);
    assert.equal(reply.data.group.reset, true);
    assert.equal(reply.data.group.group, group);
    assert.deepEqual([...reply.data.group.members].sort(), [...clients.map((x) => x.hello.self.id), c.hello.self.id].sort());
    groupHash[n] = reply.hash;
    // Everyone already there hears of the newcomer.
    for (const other of clients) {
      const update = await other.next(isWebrtc('webrtc_channel', (m) => m.data && m.data.group &&
        m.data.group.members.includes(c.hello.self.id)), 2000, `${other.name} update`);
      assert.equal(update.data.group.reset, false);
      assert.equal(update.hash, undefined);
    }
    clients.push(c);
  }
  // Pairwise set-up: the newcomer accepts towards every earlier member, who answers in kind.
  const pairHash = new Map();
  for (let i = 0; i < clients.length; i++) {
    for (let j = 0; j < i; j++) {
      const [x, y] = [clients[i], clients[j]];
      for (const [from, to] of [[x, y], [y, x]]) {
        from.send({ type: 'webrtc', subtype: 'webrtc_call', target: to.hello.self.id, initiator: false, state: group,
                    channel: `@${group}`, group, hash: groupHash[from.name], transaction: '',
                    data: { accept: true, state: group }, v: V });
        const got = await to.next(isWebrtc('webrtc_call', (m) => m.source === from.hello.self.id), 2000,
                                  `${from.name}→${to.name} accept`);
        assert.deepEqual(got.profile, { name: from.name[0].toUpperCase() + from.name.slice(1) });
        assert.equal(got.group, group);
        const key = [from.name, to.name].sort().join('-');
        if (pairHash.has(key)) assert.equal(got.hash, pairHash.get(key), `pair hash ${key} is symmetric`);
        pairHash.set(key, got.hash);
      }
    }
  }
  assert.equal(pairHash.size, 6);
  // A signal with the pair hash reaches exactly the peer.
  const [a, b, c, d] = clients;
  a.send({ type: 'webrtc', subtype: 'webrtc_signal', target: b.hello.self.id, state: group, channel: `@${group}`, group,
           hash: pairHash.get('anna-bert'), pcid: 'p', data: { candidate: 'x' }, v: V });
  const sig = await b.next(isWebrtc('webrtc_signal'), 2000, 'group signal');
  assert.deepEqual(sig.data, { candidate: 'x' });
  await c.none(isWebrtc('webrtc_signal'), 200);
  // Chats reach the others, with the sender's name; the sender gets its reply and receipt.
  const chatId = a.send({ type: 'chats', subtype: 'chats_message', channel: `@${group}`, transaction: '', v: 20201201,
                          data: { kind: '', sender: '', target: '', id: 'c1', text: 'hello team' } });
  const mine = await a.next((m) => m.type === 'chats' && m.reply_to === chatId, 2000, 'chat reply');
  assert.equal(mine.data.sender, a.hello.self.id);
  const theirs = await d.next((m) => m.type === 'chats' && m.subtype === 'chats_message', 2000, 'chat to dora');
  assert.equal(theirs.data.text, 'hello team');
  assert.deepEqual(theirs.profile, { name: 'Anna' });
  await a.next((m) => m.type === 'chats' && m.data.kind === 'delivery_queued', 2000, 'receipt');
  // Dora leaves with a hangup to the group: the rest see three members and a "left" note.
  d.send({ type: 'webrtc', subtype: 'webrtc_hangup', target: group, group, state: group, channel: `@${group}`,
           hash: groupHash.dora, data: { accept: false, reason: 'hangup', state: '' }, v: V });
  for (const x of [a, b, c]) {
    const update = await x.next(isWebrtc('webrtc_channel', (m) => m.data && m.data.group &&
      m.data.group.members.length === 3), 2000, 'leave update');
    assert.ok(!update.data.group.members.includes(d.hello.self.id));
    const left = await x.next((m) => m.type === 'chats' && m.data.extra && m.data.extra.id === 'left' &&
      m.data.sender === d.hello.self.id, 2000, 'left note');
    assert.equal(left.data.text, 'Dora has left the meeting.');
  }
  // Carl's socket drops: the others are told.
  c.ws.terminate();
  for (const x of [a, b]) {
    await x.next(isWebrtc('webrtc_channel', (m) => m.data && m.data.group && m.data.group.members.length === 2), 3000,
                 'disconnect update');
  }
  for (const x of [a, b, d]) x.close();
});

test('guests follow the policy, changed live by an administrator', async () => {
  // Not an admin: refused. Guests off: no guest logon.
  assert.equal((await setSetting('signaling.guests_enabled', true, 'anna')).status, 403);
  assert.equal((await setSetting('signaling.guests_enabled', false)).status, 200);
  assert.equal((await signInGuest(iss, 'group/public/lobby', 'Gus')).status, 403);
  const on = await setSetting('signaling.guests_enabled', true);
  assert.equal(on.status, 200);
  assert.equal(JSON.parse(on.body).settings[0].value, true);
  assert.equal((await setSetting('signaling.guests_enabled', 'yes')).status, 400);  // typed
  assert.equal((await setSetting('signaling.public_guest_access_regexp', '([')).status, 400);
  // A private room is never offered to guests.
  const priv = await signInGuest(iss, 'group/private/board', 'Gus');
  assert.equal(priv.status, 403);
  const room = `group/public/lobby-${Date.now()}`;
  const guest = await signInGuest(iss, room, '<b>Gus</b>');
  assert.equal(guest.status, 200);
  assert.match(guest.logon.id, /^[A-Za-z0-9_-]{43}=@1\.kwmguest$/);
  assert.equal(guest.scope, 'openid profile email kopano/kwm konnect/guestok');
  const g = await Rtm.open(iss, guest);
  assert.equal(g.hello.self.name, '(Guest)Gus');
  // Its TURN credential is marked as a guest's (under the HMAC): the built-in TURN server keeps
  // guests out of private networks (`[turn] guest_private_peers`); a member's is not marked.
  assert.match(g.connect.turn.username, /^\d+:guest\//);
  const join = (c, target) => c.send({ type: 'webrtc', subtype: 'webrtc_group', target, group: target, initiator: false,
                                       state: 'j', channel: '', hash: '', transaction: '', v: V });
  // Nobody there yet: the guest waits.
  let id = join(g, room);
  let err = await g.next((m) => m.type === 'error' && m.reply_to === id);
  assert.deepEqual(err.error, { code: 'create_restricted', msg: 'access denied' });
  // Another room, or a 1:1 call: not for guests.
  id = join(g, 'group/public/other');
  err = await g.next((m) => m.type === 'error' && m.reply_to === id);
  assert.equal(err.error.code, 'access_restricted');
  const anna = await Rtm.open(iss, tokens.anna);
  assert.equal(anna.connect.turn.username.replace(/^\d+:/, ''), anna.hello.self.id);
  id = g.send({ type: 'webrtc', subtype: 'webrtc_call', target: anna.hello.self.id, initiator: true, state: 's', v: V });
  err = await g.next((m) => m.type === 'error' && m.reply_to === id);
  assert.equal(err.error.code, 'access_restricted');
  // A registered member opens the room; now the guest may enter.
  join(anna, room);
  await anna.next(isWebrtc('webrtc_channel'));
  id = join(g, room);
  const ok = await g.next(isWebrtc('webrtc_channel', (m) => m.reply_to === id));
  assert.equal(ok.data.group.members.length, 2);
  // Guest-only rooms, switched on live: a second guest may open an empty room.
  const room2 = `group/public/solo-${Date.now()}`;
  const guest2 = await signInGuest(iss, room2, '');
  const g2 = await Rtm.open(iss, guest2);
  assert.match(g2.hello.self.name, /^\(Guest\)[A-Z][a-z]+ [A-Z][a-z]+$/);
  id = join(g2, room2);
  assert.equal((await g2.next((m) => m.type === 'error' && m.reply_to === id)).error.code, 'create_restricted');
  assert.equal((await setSetting('signaling.allow_guest_only_channels', true)).status, 200);
  id = join(g2, room2);
  await g2.next(isWebrtc('webrtc_channel', (m) => m.reply_to === id));
  // Guests off again: a guest's new connection is refused.
  assert.equal((await setSetting('signaling.guests_enabled', false)).status, 200);
  assert.equal((await rtmConnect(iss, guest)).status, 403);
  await setSetting('signaling.allow_guest_only_channels', false);
  for (const c of [g, g2, anna]) c.close();
});

test('connect refuses bad credentials', async () => {
  const bad = async (tok, extra = {}, headers) => {
    const res = headers
      ? await request('POST', `${iss}/api/kwm/v2/rtm/connect`, { body: '', headers })
      : await rtmConnect(iss, tok, extra);
    return res.status;
  };
  assert.equal(await bad(null, {}, { Authorization: 'Bearer not-a-token' }), 403);
  assert.equal(await bad(null, {}, { Authorization: 'Basic YTpi' }), 403);
  assert.equal(await bad(null, {}, {}), 403);
  // Another user's ID token, or a user field naming someone else.
  assert.equal(await bad({ access_token: tokens.anna.access_token, id_token: tokens.bert.id_token }), 403);
  assert.equal(await bad(tokens.anna, { user: 'someone-else' }), 403);
  assert.equal(await bad(tokens.anna, { auth: '7' }), 403);
  // A token without the kopano/kwm scope.
  const narrow = await signIn(iss, 'carl', 'carl-secret', 'openid profile email');
  assert.equal(await bad(narrow), 403);
  // A WebSocket key works once.
  const res = await rtmConnect(iss, tokens.anna);
  const url = `${iss.replace(/^https/, 'wss')}${JSON.parse(res.body).url}`;
  const WebSocket = require('ws');
  const first = new WebSocket(url);
  let second;
  try {
    await new Promise((resolve, reject) => { first.once('message', resolve); first.once('error', reject); });
    // The second upgrade's outcome, whatever it is: 101 (the key was accepted again), the refusal's
    // status, a transport error, or a timeout — never a hang, never a check that cannot fail.
    second = new WebSocket(url);
    const outcome = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('no answer within 10 s'), 10000);
      const done = (v) => { clearTimeout(timer); resolve(v); };
      second.once('upgrade', (r) => done(r.statusCode));
      second.once('unexpected-response', (req, r) => done(r.statusCode));
      second.once('error', (e) => done(`error: ${e.message}`));
    });
    assert.equal(outcome, 404, 'a used WebSocket key is unknown: 404');
  } finally {
    // Open sockets would keep node (and the test run) alive after a failure.
    second?.terminate();
    first.terminate();
  }
});

test('bad messages get errors, repeated ones close the socket', async () => {
  const a = await Rtm.open(iss, tokens.anna);
  a.sendRaw('{not json');
  let err = await a.next((m) => m.type === 'error');
  assert.equal(err.error.code, 'bad_message');
  const id = a.send({ type: 'webrtc', subtype: 'webrtc_call', target: 'x', initiator: true, state: 's', v: V,
                      profile: { name: 'Mallory' } });
  err = await a.next((m) => m.type === 'error' && m.reply_to === id);
  assert.equal(err.error.msg, 'profile cannot be set by client');
  const self = a.send({ type: 'webrtc', subtype: 'webrtc_call', target: a.hello.self.id, initiator: true, state: 's', v: V });
  err = await a.next((m) => m.type === 'error' && m.reply_to === self);
  assert.equal(err.error.msg, 'target same as source');
  // Calling someone offline: a channel, but no presence leak (no error).
  const ghost = a.send({ type: 'webrtc', subtype: 'webrtc_call', target: 'nobody-here', initiator: true, state: 's', v: V });
  await a.next(isWebrtc('webrtc_channel', (m) => m.reply_to === ghost));
  for (const junk of ['[]', '{"type":7}', '{"type":"pong"}', '{"type":"webrtc","id":"x"}']) a.sendRaw(junk);
  const closed = await a.waitClosed();
  assert.equal(closed.code, 1008);
  // A message over the size limit closes with 1009.
  const b = await Rtm.open(iss, tokens.bert);
  b.sendRaw(JSON.stringify({ type: 'ping', pad: 'x'.repeat(300 * 1024) }));
  assert.equal((await b.waitClosed()).code, 1009);
});

test('a flood is rate limited, then cut off', async () => {
  const a = await Rtm.open(iss, tokens.dora);
  for (let i = 0; i < 1000; i++) a.sendRaw('{"type":"ping","id":1}');
  const err = await a.next((m) => m.type === 'error' && m.error.msg === 'rate limit exceeded', 3000, 'rate limit error');
  assert.equal(err.error.code, 'bad_message');
  assert.equal((await a.waitClosed(5000)).code, 1008);
});
