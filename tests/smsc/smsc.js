#!/usr/bin/env node
// A scriptable SMPP 3.4 SMSC for textrelay's tests (tests/smsc_driver.py) and for people
// (scripts/smsc). It is built on the npm `smpp` package so that the far side of every SMPP test
// is code that neither textrelay nor its Python SMPP client wrote.
//
//   node smsc.js [--port N] [--host H] [--auto-receipt STAT] [--log]
//
// stdout: one JSON event per line, the first {"event":"listening","port":N}.
// stdin: one JSON command per line, {"cmd": "...", "id": ..., ...}; each is answered by
// {"event":"done","id":...,"cmd":...,"ok":true,...} or {..."ok":false,"error":"..."}.
// tests/smsc_driver.py's docstring lists every command and event with their fields.
'use strict';

const readline = require('readline');
const smpp = require('smpp');

const SYSTEM_ID = 'textrelay-smsc';
// message_state TLV (0x0427) values, SMPP 3.4 §5.2.28, keyed by the receipt text's stat.
const MESSAGE_STATES = {
  ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8,
};

const isDelay = v => Number.isInteger(v) && v >= 0;
const isBool = v => typeof v === 'boolean';
const isAnswer = v => v === 'ok' || v === 'no_answer' || (Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
const isStat = v => typeof v === 'string' && Object.hasOwn(MESSAGE_STATES, v);
const isAccounts = v => v === null
  || (typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(p => typeof p === 'string'));
// What `configure` accepts, [default, check]; a test sets what it needs, the rest keeps its value.
const SETTINGS = {
  accounts: [null, isAccounts],
  submit: ['ok', v => isAnswer(v) || (Array.isArray(v) && v.every(isAnswer))],
  answer_delay_ms: [0, isDelay],
  auto_receipt: [null, v => v === null || isStat(v)],
  receipt_err: [0, v => (Number.isInteger(v) && v >= 0) || typeof v === 'string'],
  receipt_delay_ms: [0, isDelay],
  receipt_first: [false, isBool],
  duplicate_receipts: [false, isBool],
};
const config = Object.fromEntries(Object.entries(SETTINGS).map(([key, [value]]) => [key, value]));
const counts = { binds: 0, binds_refused: 0, submits: 0, receipts_sent: 0, mos_sent: 0 };
const sessions = new Map(); // session id -> {id, session, systemId, kind}
const messages = new Map(); // message_id -> what a receipt for it needs from the submit
const pending = []; // deliver_sm waiting for a session that can receive (store and forward)
const roundRobin = new Map();
let lastSessionId = 0;
let lastMessageId = 0xa0000000;
let lastRef = 0;

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function parseArgs(argv) {
  const args = { port: 2775, host: '127.0.0.1', autoReceipt: null, log: false, tlsKey: null, tlsCert: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--port') args.port = Number(argv[++i]);
    else if (flag === '--host') args.host = argv[++i];
    else if (flag === '--auto-receipt') args.autoReceipt = argv[++i];
    else if (flag === '--log') args.log = true;
    else if (flag === '--tls-key') args.tlsKey = argv[++i];
    else if (flag === '--tls-cert') args.tlsCert = argv[++i];
    else usage(`unknown argument ${flag}`);
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) usage('--port takes 0-65535');
  if (args.autoReceipt !== null && !isStat(args.autoReceipt)) {
    usage(`--auto-receipt takes one of ${Object.keys(MESSAGE_STATES)}`);
  }
  return args;
}

function usage(problem) {
  process.stderr.write(`smsc.js: ${problem}\n`
    + 'usage: node smsc.js [--port N] [--host H] [--auto-receipt STAT] [--log] [--tls-key PEM --tls-cert PEM]\n');
  process.exit(2);
}

// The library decodes short_message through its own guess of the alphabet (lossy: unknown GSM
// codes become spaces) and validity_period into a Date; tests need the octets as sent, so each
// decoded PDU keeps its raw bytes, non-enumerable to stay out of the library's walks over fields.
const libraryFromBuffer = smpp.PDU.prototype.fromBuffer;
smpp.PDU.prototype.fromBuffer = function (buffer) {
  Object.defineProperty(this, 'raw', { value: Buffer.from(buffer) });
  return libraryFromBuffer.call(this, buffer);
};

// submit_sm and deliver_sm share their mandatory fields (SMPP 3.4 §4.4.1 and §4.6.1), in this
// order: C-strings (s) and single octets (o); then sm_length, short_message and the TLVs.
const SM_FIELDS = [
  ['service_type', 's'], ['source_addr_ton', 'o'], ['source_addr_npi', 'o'], ['source_addr', 's'],
  ['dest_addr_ton', 'o'], ['dest_addr_npi', 'o'], ['destination_addr', 's'], ['esm_class', 'o'],
  ['protocol_id', 'o'], ['priority_flag', 'o'], ['schedule_delivery_time', 's'],
  ['validity_period', 's'], ['registered_delivery', 'o'], ['replace_if_present_flag', 'o'],
  ['data_coding', 'o'], ['sm_default_msg_id', 'o'],
];

// A submit_sm or deliver_sm, straight from its octets: short_message and TLV values as hex,
// TLVs named as the library names them (unknown tags as "0x1400").
function decodeSm(buf) {
  let at = 16;
  const f = {};
  for (const [name, kind] of SM_FIELDS) {
    if (at >= buf.length) throw new Error(`PDU ends before ${name}`);
    if (kind === 'o') {
      f[name] = buf[at++];
      continue;
    }
    const nul = buf.indexOf(0, at);
    if (nul < 0) throw new Error(`${name}: C-string without its NUL`);
    f[name] = buf.toString('latin1', at, nul);
    at = nul + 1;
  }
  if (at >= buf.length) throw new Error('PDU ends before sm_length');
  const length = buf[at++];
  if (at + length > buf.length) throw new Error(`sm_length ${length} runs past the PDU`);
  f.short_message = buf.toString('hex', at, at + length);
  at += length;
  f.tlvs = {};
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new Error('TLV header cut short');
    const tag = buf.readUInt16BE(at), size = buf.readUInt16BE(at + 2);
    if (at + 4 + size > buf.length) throw new Error(`TLV 0x${tag.toString(16)} runs past the PDU`);
    const name = smpp.tlvsById[tag] ? smpp.tlvsById[tag].tag : '0x' + tag.toString(16).padStart(4, '0');
    f.tlvs[name] = buf.toString('hex', at + 4, at + 4 + size);
    at += 4 + size;
  }
  return f;
}

function decodeText(octets, dataCoding) {
  if (dataCoding === 8) return utf16be(octets.subarray(0, octets.length & ~1));
  if (dataCoding === 0) return smpp.gsmCoder.decode(octets, 0);
  return octets.toString('latin1');
}

// The text of a decoded submit_sm or deliver_sm, its UDH (if any) left out.
function smText(f) {
  let octets = Buffer.from(f.short_message || f.tlvs.message_payload || '', 'hex');
  if (f.esm_class & 0x40 && octets.length) octets = octets.subarray(octets[0] + 1);
  return decodeText(octets, f.data_coding);
}

// A receipt's `text:` field: the first 20 characters, in ASCII (what receipt parsers read).
const preview = f => Array.from(smText(f)).slice(0, 20).join('').replace(/[^\x20-\x7e]/g, '?');

function fromHex(hex) {
  const clean = typeof hex === 'string' ? hex.replace(/\s+/g, '') : '';
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(clean)) {
    throw new Error('hex must be a string of hex digit pairs');
  }
  return Buffer.from(clean, 'hex');
}

const later = (fn, ms) => (ms > 0 ? setTimeout(fn, ms) : fn());
const smppDate = d => d.toISOString().replace(/\D/g, '').slice(2, 12); // YYMMDDhhmm, UTC
const formatErr = err => (typeof err === 'number' ? String(err).padStart(3, '0') : err);
// UTF-16BE both ways (Node knows only little-endian): swapping each pair of octets converts.
const utf16be = textOrOctets => (typeof textOrOctets === 'string'
  ? Buffer.from(textOrOctets, 'utf16le').swap16()
  : Buffer.from(textOrOctets).swap16().toString('utf16le'));

function bindStatus(systemId, password) {
  if (config.accounts === null) return smpp.ESME_ROK;
  if (!Object.hasOwn(config.accounts, systemId)) return smpp.ESME_RBINDFAIL;
  return config.accounts[systemId] === password ? smpp.ESME_ROK : smpp.ESME_RINVPASWD;
}

function onBind(s, kind, pdu) {
  const status = s.kind ? smpp.ESME_RALYBND : bindStatus(pdu.system_id, pdu.password);
  emit({
    event: 'bind', session: s.id, kind, system_id: pdu.system_id, password: pdu.password,
    system_type: pdu.system_type, interface_version: pdu.interface_version,
    accepted: status === smpp.ESME_ROK, command_status: status,
  });
  if (status !== smpp.ESME_ROK) {
    counts.binds_refused++;
    // A refused bind ends the connection (what SMSCs do); a second bind on a bound one does not.
    s.session.send(pdu.response({ command_status: status }), () => { if (!s.kind) s.session.close(); });
    return;
  }
  counts.binds++;
  s.kind = kind;
  s.systemId = pdu.system_id;
  s.session.send(pdu.response({ system_id: SYSTEM_ID, sc_interface_version: 0x34 }));
  if (kind !== 'transmitter') pending.splice(0).forEach(p => deliver(p.systemId, p.fields, p.meta));
}

// The submit_sm answer for this submit: the head of a scripted list, else the fixed answer.
function nextAnswer() {
  if (!Array.isArray(config.submit)) return config.submit;
  const answer = config.submit.shift();
  if (config.submit.length === 0) config.submit = 'ok';
  return answer === undefined ? 'ok' : answer;
}

function onSubmit(s, pdu) {
  counts.submits++;
  let f;
  try {
    f = decodeSm(pdu.raw);
  } catch (err) {
    emit({ event: 'error', session: s.id, message: `malformed submit_sm: ${err.message}`,
      pdu: pdu.raw.toString('hex') });
    s.session.send(pdu.response({ command_status: smpp.ESME_RINVCMDLEN }));
    return;
  }
  const event = {
    event: 'submit_sm', session: s.id, system_id: s.systemId, sequence_number: pdu.sequence_number, ...f,
  };
  const answer = s.kind && s.kind !== 'receiver' ? nextAnswer() : smpp.ESME_RINVBNDSTS;
  if (answer === 'no_answer') return emit({ ...event, answer: 'no_answer' });
  if (answer !== 'ok' && answer !== smpp.ESME_ROK) {
    emit({ ...event, command_status: answer });
    return later(() => s.session.send(pdu.response({ command_status: answer })), config.answer_delay_ms);
  }
  const id = (++lastMessageId).toString(16);
  messages.set(id, {
    systemId: s.systemId, submitted: new Date(), preview: preview(f),
    source: [f.source_addr_ton, f.source_addr_npi, f.source_addr],
    destination: [f.dest_addr_ton, f.dest_addr_npi, f.destination_addr],
  });
  emit({ ...event, command_status: smpp.ESME_ROK, message_id: id });
  // Settings are read now: a test that reconfigures later does not change receipts in flight.
  const stat = config.auto_receipt, err = config.receipt_err, delay = config.receipt_delay_ms;
  const copies = config.duplicate_receipts ? 2 : 1, answerDelay = config.answer_delay_ms;
  // registered_delivery 0x01: a receipt for the final outcome; 0x02: only for a failure.
  const asked = f.registered_delivery & 0x03;
  const wanted = stat !== null && (asked === 1 || (asked === 2 && stat !== 'DELIVRD'));
  const sendReceipts = then => {
    const r = buildReceipt(id, stat, err, {});
    let sent = null;
    for (let i = 1; i <= copies; i++) sent = deliver(r.systemId, r.fields, r.meta, i === copies ? then : null);
    if (sent === null && then) then(); // kept for a later bind: the answer must not wait for one
  };
  const respond = then => later(() => s.session.send(pdu.response({ message_id: id }), then), answerDelay);
  if (wanted && config.receipt_first) later(() => sendReceipts(() => respond()), delay);
  else respond(wanted ? () => later(() => sendReceipts(null), delay) : undefined);
}

// A delivery receipt: a deliver_sm with esm_class 0x04, addresses swapped from the submit.
function buildReceipt(id, stat, err, opts) {
  const original = messages.get(id);
  const now = new Date();
  const text = opts.text ?? `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'}`
    + ` submit date:${smppDate(original ? original.submitted : now)} done date:${smppDate(now)}`
    + ` stat:${stat} err:${formatErr(err)} text:${original ? original.preview : ''}`;
  const [handsetTon, handsetNpi, handset] = original ? original.destination : [1, 1, ''];
  const [senderTon, senderNpi, sender] = original ? original.source : [1, 1, ''];
  const fields = {
    source_addr_ton: handsetTon, source_addr_npi: handsetNpi, source_addr: opts.source ?? handset,
    dest_addr_ton: senderTon, dest_addr_npi: senderNpi, destination_addr: opts.destination ?? sender,
    esm_class: opts.esm_class ?? 0x04, data_coding: 0,
    short_message: opts.hex !== undefined ? fromHex(opts.hex) : Buffer.from(text, 'latin1'),
  };
  if (opts.tlvs !== false && id) {
    fields.receipted_message_id = id;
    if (isStat(stat)) fields.message_state = MESSAGE_STATES[stat];
  }
  const systemId = opts.system_id ?? (original ? original.systemId : null);
  return { systemId, fields, meta: { kind: 'receipt', message_id: id, stat } };
}

// A bound session that can take deliver_sm: of that system_id (any if null), in turn.
function pickReceiver(systemId) {
  const candidates = [...sessions.values()].filter(s => s.kind && s.kind !== 'transmitter'
    && s.session.socket.writable && (systemId === null || s.systemId === systemId));
  if (candidates.length === 0) return null;
  const turn = roundRobin.get(systemId) ?? 0;
  roundRobin.set(systemId, turn + 1);
  return candidates[turn % candidates.length];
}

// Sends a deliver_sm, or keeps it until a session that can receive binds (as SMSCs store MO
// and receipts for an ESME that is away). Returns {session, sequence_number}, or null if kept.
function deliver(systemId, fields, meta, onSent, target = pickReceiver(systemId)) {
  if (!target) {
    pending.push({ systemId, fields, meta });
    return null;
  }
  const pdu = new smpp.PDU('deliver_sm', fields);
  const answered = resp => emit({
    event: 'deliver_sm_resp', session: target.id, sequence_number: resp.sequence_number,
    command: resp.command, command_status: resp.command_status, ...meta,
  });
  target.session.send(pdu, answered, () => onSent && onSent());
  counts[meta.kind === 'receipt' ? 'receipts_sent' : 'mos_sent']++;
  emit({
    event: 'deliver_sm', session: target.id, sequence_number: pdu.sequence_number, ...meta,
    ...decodeSm(pdu.toBuffer()),
  });
  return { session: target.id, sequence_number: pdu.sequence_number };
}

// Mobile-originated text, one deliver_sm or several concatenated parts (UDH or SAR TLVs).
function mo(cmd) {
  const fail = problem => { throw new Error(problem); };
  for (const key of ['source', 'destination']) if (typeof cmd[key] !== 'string') fail(`mo needs ${key}`);
  const { text } = cmd;
  if ((text === undefined) === (cmd.hex === undefined)) fail('mo needs exactly one of text and hex');
  const dataCoding = cmd.data_coding ?? (text === undefined || smpp.gsmCoder.GSM.charRegex.test(text) ? 0 : 8);
  if (text !== undefined && dataCoding !== 0 && dataCoding !== 8) fail('text goes as data_coding 0 or 8, else hex');
  // GSM 03.38 unpacked, one septet per octet (the usual SMPP default alphabet), or UCS-2.
  const encode = t => (dataCoding === 8 ? utf16be(t) : smpp.gsmCoder.encode(t, 0));
  let parts, total = cmd.total ?? 1;
  if (cmd.split !== undefined) {
    if (text === undefined || !Number.isInteger(cmd.split) || cmd.split < 1 || cmd.split > 255) {
      fail('split takes 1-255 parts of a text');
    }
    const chars = Array.from(text); // code points: a surrogate pair stays in one part
    const size = Math.ceil(chars.length / cmd.split);
    total = cmd.split;
    parts = Array.from({ length: total }, (_, i) => ({
      seq: i + 1, body: encode(chars.slice(i * size, (i + 1) * size).join('')),
    }));
  } else {
    parts = [{ seq: cmd.seq ?? 1, body: text !== undefined ? encode(text) : fromHex(cmd.hex) }];
  }
  const concatenated = cmd.split !== undefined || cmd.total !== undefined;
  const mode = cmd.concat ?? 'udh';
  if (mode !== 'udh' && mode !== 'sar') fail('concat is "udh" or "sar"');
  const ref = cmd.ref ?? (++lastRef % 256); // a counter, not chance: runs repeat exactly
  if (!Number.isInteger(ref) || ref < 0 || ref > (mode === 'udh' ? 0xff : 0xffff)) fail(`ref out of range for ${mode}`);
  const omit = new Set(cmd.omit ?? []);
  const chosen = parts.filter(p => !omit.has(p.seq));
  if (cmd.reverse) chosen.reverse();
  const pdus = chosen.map(part => {
    const fields = {
      source_addr_ton: cmd.source_ton ?? 1, source_addr_npi: cmd.source_npi ?? 1,
      source_addr: cmd.source,
      dest_addr_ton: cmd.dest_ton ?? 1, dest_addr_npi: cmd.dest_npi ?? 1,
      destination_addr: cmd.destination,
      esm_class: 0, data_coding: dataCoding, short_message: part.body,
    };
    if (concatenated && mode === 'udh') {
      const udh = Buffer.from([0x05, 0x00, 0x03, ref, total, part.seq]);
      fields.short_message = Buffer.concat([udh, part.body]);
      fields.esm_class = 0x40;
    } else if (concatenated) {
      Object.assign(fields, { sar_msg_ref_num: ref, sar_total_segments: total, sar_segment_seqnum: part.seq });
    }
    const length = fields.short_message.length;
    if (length > 254) fail(`part ${part.seq} is ${length} octets, over 254: split into more parts`);
    return { fields, meta: { kind: 'mo', part: part.seq, total } };
  });
  const target = pickReceiver(cmd.system_id ?? null); // all parts on one bind
  const sent = pdus.map(p => deliver(cmd.system_id ?? null, p.fields, p.meta, null, target));
  return { sent: sent.filter(Boolean), queued: sent.filter(x => x === null).length, ref, total };
}

const COMMANDS = {
  configure(cmd) {
    const changes = Object.entries(cmd).filter(([key]) => key !== 'cmd' && key !== 'id');
    for (const [key, value] of changes) {
      if (!Object.hasOwn(SETTINGS, key)) throw new Error(`unknown setting ${key}`);
      if (!SETTINGS[key][1](value)) throw new Error(`bad value for ${key}: ${JSON.stringify(value)}`);
    }
    for (const [key, value] of changes) config[key] = Array.isArray(value) ? [...value] : value;
    return { config };
  },
  receipt(cmd) {
    if (cmd.message_id === undefined && cmd.text === undefined && cmd.hex === undefined) {
      throw new Error('receipt needs message_id, text or hex');
    }
    const stat = cmd.stat ?? 'DELIVRD';
    if (typeof stat !== 'string') throw new Error('stat must be a string');
    const r = buildReceipt(String(cmd.message_id ?? ''), stat, cmd.err ?? 0, cmd);
    const sent = deliver(r.systemId, r.fields, r.meta, null);
    return { sent, queued: sent === null };
  },
  mo,
  raw(cmd) {
    const octets = fromHex(cmd.hex);
    const targets = cmd.session === undefined
      ? [...sessions.values()] : [sessions.get(cmd.session)].filter(Boolean);
    if (targets.length === 0) throw new Error('no session to write to');
    targets.forEach(s => s.session.socket.write(octets));
    return { sessions: targets.map(s => s.id) };
  },
  drop(cmd) { // no unbind: the TCP connection just goes (reset: true sends an RST, not a FIN)
    const ids = [...sessions.keys()];
    sessions.forEach(s => (cmd.reset ? s.session.socket.resetAndDestroy() : s.session.destroy()));
    return { dropped: ids };
  },
  unbind() {
    const bound = [...sessions.values()].filter(s => s.kind);
    bound.forEach(s => {
      s.session.unbind(resp => {
        emit({ event: 'unbind_resp', session: s.id, command_status: resp.command_status });
        s.session.close();
      });
      setTimeout(() => s.session.destroy(), 5000).unref(); // an ESME that never answers
    });
    return { sessions: bound.map(s => s.id) };
  },
  stats() {
    const open = [...sessions.values()];
    return {
      ...counts, sessions_open: open.length, sessions_bound: open.filter(s => s.kind).length,
      pending: pending.length, sessions: open.map(s => ({ session: s.id, system_id: s.systemId, kind: s.kind })),
    };
  },
  stop() {
    setImmediate(() => shutdown(0));
    return {};
  },
};

function onLine(line) {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    return emit({ event: 'error', message: `not JSON: ${err.message}`, line });
  }
  if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) {
    return emit({ event: 'error', message: 'a command is a JSON object', line });
  }
  const done = { event: 'done', id: cmd.id ?? null, cmd: cmd.cmd };
  if (!Object.hasOwn(COMMANDS, cmd.cmd)) {
    return emit({ ...done, ok: false, error: `unknown command ${JSON.stringify(cmd.cmd)}` });
  }
  try {
    emit({ ...done, ok: true, ...COMMANDS[cmd.cmd](cmd) });
  } catch (err) {
    emit({ ...done, ok: false, error: err.message });
  }
}

// --log: one line a PDU, for people watching an ESME talk to it.
function logPdu(arrow, s, pdu) {
  const words = [`${arrow} #${s.id}`, pdu.command, `seq=${pdu.sequence_number}`];
  if (pdu.command_status) words.push(`status=0x${pdu.command_status.toString(16)}`);
  for (const key of ['system_id', 'password', 'message_id', 'receipted_message_id', 'message_state']) {
    if (pdu[key]) words.push(`${key}=${pdu[key]}`);
  }
  if (pdu.command === 'submit_sm' || pdu.command === 'deliver_sm') {
    try {
      const f = decodeSm(pdu.raw || pdu.toBuffer());
      words.push(`${f.source_addr} -> ${f.destination_addr}`, `esm_class=0x${f.esm_class.toString(16)}`,
        `data_coding=${f.data_coding}`, `registered_delivery=${f.registered_delivery}`, JSON.stringify(smText(f)));
    } catch (err) {
      words.push(`(malformed: ${err.message})`);
    }
  }
  process.stderr.write(words.join(' ') + '\n');
}

const SERVED = new Set(['enquire_link', 'unbind', 'submit_sm']);

function onSession(session, args) {
  // Answers leave at once, as a real SMSC's do: without this, Nagle's algorithm holds each
  // small PDU until the ESME acknowledges the one before.
  if (session.socket && session.socket.setNoDelay) session.socket.setNoDelay(true);
  const s = { id: ++lastSessionId, session, systemId: null, kind: null };
  sessions.set(s.id, s);
  const report = message => emit({ event: 'error', session: s.id, message });
  const handle = fn => (...a) => {
    try {
      fn(...a);
    } catch (err) {
      report(String((err && err.stack) || err));
    }
  };
  // The library reports unparseable input as 'error' and then stops reading the socket; the
  // session is of no further use, so it goes.
  session.on('error', err => {
    report(String(err.message || err));
    session.destroy();
  });
  session.on('close', () => {
    sessions.delete(s.id);
    emit({ event: 'close', session: s.id, system_id: s.systemId });
  });
  for (const kind of ['transceiver', 'transmitter', 'receiver']) {
    session.on(`bind_${kind}`, handle(pdu => onBind(s, kind, pdu)));
  }
  session.on('submit_sm', handle(pdu => onSubmit(s, pdu)));
  session.on('enquire_link', handle(pdu => {
    emit({ event: 'enquire_link', session: s.id, sequence_number: pdu.sequence_number });
    session.send(pdu.response());
  }));
  session.on('unbind', handle(pdu => {
    emit({ event: 'unbind', session: s.id, system_id: s.systemId });
    session.send(pdu.response(), () => session.close());
  }));
  // Requests we do not serve (data_sm, query_sm, unknown ids...): the library answers nothing on
  // its own, so answer ESME_RINVCMDID ourselves, as generic_nack when there is no *_resp.
  session.on('pdu', handle(pdu => {
    const { command, sequence_number } = pdu;
    if (command === 'generic_nack') { // the ESME's answer to what it could not take (see `raw`)
      emit({ event: 'generic_nack', session: s.id, sequence_number, command_status: pdu.command_status });
    }
    if (pdu.isResponse() || SERVED.has(command) || command.startsWith('bind_')) return;
    report(`unsupported command ${command} (0x${pdu.command_id.toString(16)})`);
    const status = { sequence_number, command_status: smpp.ESME_RINVCMDID };
    const hasResp = Object.hasOwn(smpp.commands, `${command}_resp`);
    session.send(hasResp ? pdu.response(status) : new smpp.PDU('generic_nack', status));
  }));
  if (args.log) {
    session.on('pdu', pdu => logPdu('<-', s, pdu));
    session.on('send', pdu => logPdu('->', s, pdu));
  }
}

let stopping = false;
let server = null;
function shutdown(code) {
  if (stopping) return;
  stopping = true;
  if (server) server.close();
  sessions.forEach(s => s.session.destroy());
  process.stdout.write('', () => process.exit(code));
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.autoReceipt) Object.assign(config, { auto_receipt: args.autoReceipt, receipt_delay_ms: 200 });
  // A scripted peer must outlive whatever a test throws at it: report, and carry on.
  process.on('uncaughtException', err => emit({ event: 'error', message: `uncaught: ${(err && err.stack) || err}` }));
  process.stdout.on('error', () => process.exit(0)); // the driver is gone
  // With a key and a certificate the library serves SMPP over TLS (its SecureServer).
  const options = { debug: false };
  if (args.tlsKey && args.tlsCert) {
    options.key = require('fs').readFileSync(args.tlsKey);
    options.cert = require('fs').readFileSync(args.tlsCert);
  }
  server = smpp.createServer(options, session => onSession(session, args));
  server.on('error', err => {
    emit({ event: 'error', message: `server: ${err.message}` });
    shutdown(1);
  });
  server.listen(args.port, args.host, () => emit({ event: 'listening', port: server.address().port }));
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', onLine);
  lines.on('close', () => shutdown(0)); // stdin closed: the driver (or the terminal) is done
}

main();
