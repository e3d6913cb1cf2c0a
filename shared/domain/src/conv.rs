//! The `conv` aggregate: one conversation's subject. It assigns the gapless `conv_seq`, holds
//! the relationship of a direct conversation's two users (`pair`) or the group of a group
//! conversation (`group`), and keeps a bounded idempotency record so a retried send is
//! answered with the original receipt instead of recording a second message.
//!
//! The idempotency horizon: a (sender, client_msg_id) is recognised while the message is at
//! most [`IDEMPOTENCY_HORIZON_MS`] older than the conversation's newest message and either among
//! the sender's last [`IDEMPOTENCY_PER_SENDER`] messages in the conversation, or at most
//! [`IDEMPOTENCY_MIN_MS`] older than the newest message and among the sender's last
//! [`IDEMPOTENCY_MAX_PER_SENDER`]. So a sender holds at most that many entries, and a burst is
//! still remembered for the minutes a client retries in. Every bound is measured in the
//! conversation's own events (their `ts` and order, never a clock), so the record a snapshot
//! restores plus the events after it answers exactly as a fold from the first event: a
//! snapshot changes how long a load takes, never an answer.
//!
//! Message time: a recorded message's `ts` is never less than that of any message before it
//! in the conversation (`ts = max(the command's ts, the newest ts)`), so `ts` is
//! non-decreasing in `conv_seq` and history can be searched by time. Messages recorded before
//! this rule may be out of order by the clock skew between api instances.

mod annotate;
mod facts;
mod files;
mod lifecycle;

pub use annotate::{MAX_REACTION_KEY_BYTES, PinMessage, ReactToMessage, check_reaction_key};

pub use facts::{
    MARK_EVERY, Mark, MessageFacts, Note, RECENT_FACTS, Recall, SCAN_SKEW_MS, ScanStart,
};
pub use lifecycle::{Actor, EditMessage, RecallMessage};

use crate::aggregate::{Aggregate, Snapshotted};
use crate::event::{Event, ForwardRef, MessageSent, ReplyRef};
use crate::group::{self, ChangeGroup, GroupState, Role};
use crate::pair::{self, ChangePair, PairState};
use crate::{
    AppId, Body, BodyLimits, ClientMsgId, ConvId, DomainError, MessageId, Recipient, UserId,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// How many of a sender's newest messages in a conversation a retry is recognised against.
pub const IDEMPOTENCY_PER_SENDER: u64 = 128;
/// How old (before the conversation's newest message, in milliseconds) a message may be and
/// still be recognised when retried: 24 hours.
pub const IDEMPOTENCY_HORIZON_MS: i64 = 24 * 60 * 60 * 1000;
/// Messages this recent are recognised up to [`IDEMPOTENCY_MAX_PER_SENDER`] back: 10 minutes. It must
/// exceed the events stream's duplicate window (2 minutes, `nats/streams/events.json`) with
/// room for clock skew: JetStream drops a second copy of a message within that window, so the
/// aggregate must still know the original to answer with it.
pub const IDEMPOTENCY_MIN_MS: i64 = 10 * 60 * 1000;
/// The most messages of one sender in one conversation a retry is recognised against, however
/// recent (3.4 a second for ten minutes: more than a person sends).
pub const IDEMPOTENCY_MAX_PER_SENDER: u64 = 2048;
/// Every this many messages (by `conv_seq`) the whole record drops what it no longer
/// recognises, so senders who went quiet do not keep their entries.
const SWEEP_EVERY: u64 = 1024;

/// What the sender is told about a recorded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub conv: ConvId,
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub ts: i64,
}

/// A conversation's state folded from its subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConvState {
    pub last_conv_seq: u64,
    /// For a direct conversation, the relationship of its two users.
    pub pair: PairState,
    /// For a group conversation, the group.
    pub group: GroupState,
    sent: SentRecord,
    /// The newest messages' facts.
    recent: facts::Recent,
    /// Where every [`MARK_EVERY`]th message sits in the events stream.
    marks: facts::Marks,
    /// What happened to messages since their send.
    notes: facts::Notes,
    /// The pinned messages' `conv_seq`s (at most the app's cap).
    #[serde(default)]
    pins: BTreeSet<u64>,
    /// The files its live messages name.
    files: files::Files,
}

/// The idempotency record: per sender, the messages a retry may still refer to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SentRecord {
    /// The conversation (known from its first message), so entries need not repeat it.
    conv: Option<ConvId>,
    /// The newest message's `ts`: the horizons are measured back from it.
    newest_ts: i64,
    by_sender: HashMap<UserId, SenderRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "SenderEntries")]
struct SenderRecord {
    /// Messages from this sender since their record was (re)started.
    count: u64,
    /// Oldest first, `nth` strictly increasing. Entries go only once no retry may refer to
    /// them, and that stays so (the newest `ts` and `count` only grow), so when they go never
    /// changes an answer.
    entries: VecDeque<SentEntry>,
    /// The `nth` of the newest entry of each `client_msg_id`: a retry is found without
    /// comparing it with every entry (a sender may hold thousands).
    index: HashMap<ClientMsgId, u64>,
}

/// How a sender's record is stored in a snapshot: the index is rebuilt from the entries.
#[derive(Deserialize)]
struct SenderEntries {
    count: u64,
    entries: VecDeque<SentEntry>,
}

impl From<SenderEntries> for SenderRecord {
    fn from(stored: SenderEntries) -> Self {
        let mut record = SenderRecord {
            count: stored.count,
            entries: stored.entries,
            index: HashMap::new(),
        };
        record.reindex();
        record
    }
}

/// A sender's record written as [`SenderEntries`], borrowed (serde's `into` would clone every
/// entry for each snapshot).
impl Serialize for SenderRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Stored<'a> {
            count: u64,
            entries: &'a VecDeque<SentEntry>,
        }
        Stored {
            count: self.count,
            entries: &self.entries,
        }
        .serialize(serializer)
    }
}

impl SenderRecord {
    fn reindex(&mut self) {
        self.index = self
            .entries
            .iter()
            .map(|e| (e.client_msg_id.clone(), e.nth))
            .collect();
    }

    /// The newest entry of `client_msg_id`. Entries are numbered one apart unless a sweep
    /// dropped some between others (an entry's horizon also counts its time, which a clock
    /// may set back), so its offset from the oldest finds it at once, checked, and a search
    /// otherwise: every send reads its own receipt back, and a sender may hold thousands.
    fn newest(&self, client_msg_id: &ClientMsgId) -> Option<&SentEntry> {
        let nth = *self.index.get(client_msg_id)?;
        let offset = nth.checked_sub(self.entries.front()?.nth);
        let direct = offset.and_then(|at| self.entries.get(usize::try_from(at).ok()?));
        if let Some(entry) = direct.filter(|e| e.nth == nth) {
            return Some(entry);
        }
        let at = self.entries.binary_search_by_key(&nth, |e| e.nth).ok()?;
        self.entries.get(at)
    }

    fn push(&mut self, entry: SentEntry) {
        self.index.insert(entry.client_msg_id.clone(), entry.nth);
        self.entries.push_back(entry);
    }

    fn pop_oldest(&mut self) {
        if let Some(gone) = self.entries.pop_front()
            && self.index.get(&gone.client_msg_id) == Some(&gone.nth)
        {
            self.index.remove(&gone.client_msg_id);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SentEntry {
    /// This message's number among the sender's (`count` when it was recorded).
    nth: u64,
    client_msg_id: ClientMsgId,
    #[serde(with = "crate::ids::message_id_bytes")]
    msg_id: MessageId,
    conv_seq: u64,
    ts: i64,
}

/// Whether a retry may still refer to `entry` of a sender who has sent `count` messages, the
/// conversation's newest message being at `newest_ts`: the horizon of the module doc.
fn recognised(newest_ts: i64, count: u64, entry: &SentEntry) -> bool {
    let (age, back) = (newest_ts.saturating_sub(entry.ts), count - entry.nth);
    age <= IDEMPOTENCY_HORIZON_MS
        && (back < IDEMPOTENCY_PER_SENDER
            || (age <= IDEMPOTENCY_MIN_MS && back < IDEMPOTENCY_MAX_PER_SENDER))
}

impl SentRecord {
    fn find(&self, from: &UserId, client_msg_id: &ClientMsgId) -> Option<Receipt> {
        let sender = self.by_sender.get(from)?;
        // Older entries of the same id are older still: if the newest is past the horizon,
        // so are they.
        let entry = sender
            .newest(client_msg_id)
            .filter(|e| recognised(self.newest_ts, sender.count, e))?;
        Some(Receipt {
            conv: self.conv.clone()?,
            msg_id: entry.msg_id.clone(),
            conv_seq: entry.conv_seq,
            ts: entry.ts,
        })
    }

    fn record(&mut self, m: &MessageSent) {
        if self.conv.is_none() {
            self.conv = Some(m.conv.clone());
        }
        self.newest_ts = self.newest_ts.max(m.ts);
        let newest_ts = self.newest_ts;
        if !self.by_sender.contains_key(&m.from) {
            self.by_sender
                .insert(m.from.clone(), SenderRecord::default());
        }
        let sender = self.by_sender.get_mut(&m.from).expect("inserted above");
        sender.count += 1;
        sender.push(SentEntry {
            nth: sender.count,
            client_msg_id: m.client_msg_id.clone(),
            msg_id: m.msg_id.clone(),
            conv_seq: m.conv_seq,
            ts: m.ts,
        });
        while let Some(oldest) = sender.entries.front()
            && !recognised(newest_ts, sender.count, oldest)
        {
            sender.pop_oldest();
        }
        if m.conv_seq.is_multiple_of(SWEEP_EVERY) {
            self.by_sender.retain(|_, sender| {
                let count = sender.count;
                sender.entries.retain(|e| recognised(newest_ts, count, e));
                sender.reindex();
                !sender.entries.is_empty()
            });
        }
    }

    /// How many entries are held.
    fn len(&self) -> usize {
        self.by_sender.values().map(|s| s.entries.len()).sum()
    }
}

impl ConvState {
    /// The receipt of the message `from` sent with `client_msg_id`, while within the horizon.
    pub fn receipt(&self, from: &UserId, client_msg_id: &ClientMsgId) -> Option<Receipt> {
        self.sent.find(from, client_msg_id)
    }

    /// How many entries the idempotency record holds (bounded by the horizon).
    pub fn remembered(&self) -> usize {
        self.sent.len()
    }

    /// The facts of `msg_id` if it is among the newest [`RECENT_FACTS`] messages; otherwise
    /// read it from the subject from [`ConvState::scan_from`].
    pub fn recent_facts(&self, msg_id: &MessageId) -> Option<&MessageFacts> {
        self.recent.by_msg_id(msg_id)
    }

    /// The facts of the message at `conv_seq` if it is among the newest messages.
    pub fn recent_facts_at(&self, conv_seq: u64) -> Option<&MessageFacts> {
        self.recent.by_conv_seq(conv_seq)
    }

    /// Where in the subject to read from to find `msg_id`'s `message_sent`.
    pub fn scan_from(&self, msg_id: &MessageId) -> ScanStart {
        self.marks.scan_from(msg_id)
    }

    /// Where in the subject to read from to find the `message_sent` at `conv_seq`.
    pub fn scan_from_conv_seq(&self, conv_seq: u64) -> u64 {
        self.marks.scan_from_conv_seq(conv_seq)
    }

    /// What happened to the message at `conv_seq` since its send.
    pub fn note(&self, conv_seq: u64) -> Note {
        self.notes.get(conv_seq)
    }

    /// Whether the message at `conv_seq` is pinned.
    pub fn is_pinned(&self, conv_seq: u64) -> bool {
        self.pins.contains(&conv_seq)
    }

    /// The pinned messages' `conv_seq`s.
    pub fn pins(&self) -> &BTreeSet<u64> {
        &self.pins
    }

    /// Whether the uploaded `file` may be read by the conversation's participants: false once
    /// every message naming it is recalled.
    pub fn file_readable(&self, file: &crate::FileId) -> bool {
        self.files.readable(file)
    }
}

/// Send a message. `msg_id` and `ts` are chosen by the caller (the domain has no clock).
#[derive(Debug, Clone, PartialEq)]
pub struct SendMessage {
    pub app: AppId,
    pub from: UserId,
    pub to: Recipient,
    pub client_msg_id: ClientMsgId,
    pub body: Body,
    /// Group members mentioned (`@user`).
    pub mentions: Vec<UserId>,
    /// `@all` (admins and the owner only).
    pub mention_all: bool,
    /// The message of this conversation the new one answers, as the facts lookup found it.
    pub reply_to: Option<MessageFacts>,
    /// The original of a forwarded copy (`body` is its body), checked readable by the caller.
    pub forward_of: Option<ForwardRef>,
    pub msg_id: MessageId,
    pub ts: i64,
    /// The app's body limits.
    pub limits: BodyLimits,
    /// The app's messaging policy.
    pub policy: MessagingPolicy,
}

/// Who may message whom in an app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingPolicy {
    /// Anyone in the app may message anyone.
    #[default]
    Open,
    /// Direct messages need friendship.
    FriendsOnly,
}

/// What may be asked of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ConvCommand {
    /// Record a message; a retry within the horizon records nothing (answer with
    /// [`ConvState::receipt`]).
    Send(SendMessage),
    /// Change the group of a group conversation.
    Group(ChangeGroup),
    /// Change the relationship of a direct conversation's two users.
    Pair(ChangePair),
    /// Recall a message; recalling it again records nothing (answer with [`ConvState::note`]).
    Recall(RecallMessage),
    /// Edit a text message (answer with [`ConvState::note`]).
    Edit(EditMessage),
    /// Add or remove a reaction; always recorded (a repeat is a no-op in the read model).
    React(ReactToMessage),
    /// Pin or unpin a message; a pin of a pinned message records nothing.
    Pin(PinMessage),
}

impl Aggregate for ConvState {
    const KIND: &'static str = "conv";
    type Command = ConvCommand;

    fn decide(&self, command: &ConvCommand) -> Result<Vec<Event>, DomainError> {
        match command {
            ConvCommand::Send(send) => decide_send(self, send),
            ConvCommand::Group(change) => group::decide(&self.group, change),
            ConvCommand::Pair(change) => pair::decide(&self.pair, change),
            ConvCommand::Recall(recall) => lifecycle::decide_recall(self, recall),
            ConvCommand::Edit(edit) => lifecycle::decide_edit(self, edit),
            ConvCommand::React(react) => annotate::decide_react(self, react),
            ConvCommand::Pin(pin) => annotate::decide_pin(self, pin),
        }
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::PairChanged(p) => self.pair.evolve(p),
            Event::GroupChanged(g) => self.group.evolve(g),
            Event::MessageSent(m) => {
                self.last_conv_seq = self.last_conv_seq.max(m.conv_seq);
                self.sent.record(m);
                self.recent.push(MessageFacts::from(m));
                self.files.sent(m);
            }
            Event::MessageRecalled(r) => {
                self.notes.recalled(r);
                self.files.recalled(r);
            }
            Event::MessageEdited(e) => self.notes.edited(e),
            Event::MessagePinned(p) => {
                self.pins.insert(p.conv_seq);
            }
            Event::MessageUnpinned(p) => {
                self.pins.remove(&p.conv_seq);
            }
            _ => {}
        }
    }

    fn apply_at(&mut self, event: &Event, stream_seq: u64) {
        self.apply(event);
        if let Event::MessageSent(m) = event {
            self.marks.record(m, stream_seq);
        }
    }
}

impl Snapshotted for ConvState {
    /// 2: facts, marks and notes (a format-1 snapshot has no marks, so it is folded again).
    /// 3: pins (a format-2 snapshot does not know them).
    /// 4: the files live messages name (an older snapshot has none, so it is folded again).
    /// 5: encoded positionally (no field names; the api's `snapshot` module), message ids as
    /// their 16 bytes.
    const SNAPSHOT_FORMAT: u32 = 5;

    /// A group conversation's members and applicants count too: a large group's state is
    /// mostly its roster.
    fn snapshot_weight(&self) -> u64 {
        (self.sent.len()
            + self.recent.len()
            + self.marks.len()
            + self.notes.len()
            + self.pins.len()
            + self.files.len()
            + self.group.members.len()
            + self.group.applicants.len()) as u64
    }
}

/// Decides a send against the conversation's state. Authorization that needs other
/// aggregates (recipient exists and is active) is checked by the caller first.
fn decide_send(state: &ConvState, cmd: &SendMessage) -> Result<Vec<Event>, DomainError> {
    if state.receipt(&cmd.from, &cmd.client_msg_id).is_some() {
        return Ok(Vec::new());
    }
    if let Recipient::Service(service) = &cmd.to {
        // A service conversation is the service aggregate's (`crate::service`).
        return Err(DomainError::Invalid(format!(
            "messages to service {service} are decided by the service"
        )));
    }
    if let Recipient::User(to) = &cmd.to
        && to != &cmd.from
    {
        if state.pair.blocks(to) {
            return Err(DomainError::Blocked(format!(
                "{to} does not accept messages from you"
            )));
        }
        if cmd.policy == MessagingPolicy::FriendsOnly && !state.pair.friends {
            return Err(DomainError::NotFriends(format!(
                "this app allows direct messages between friends only; {to} is not your friend"
            )));
        }
    }
    if let Recipient::Group(group) = &cmd.to {
        if !state.group.is_live() {
            return Err(DomainError::NotFound(format!("group {group}")));
        }
        state.group.may_send(&cmd.from)?;
        if cmd.mention_all && state.group.role(&cmd.from) < Some(Role::Admin) {
            return Err(DomainError::Forbidden(
                "only the owner or an admin can mention all".into(),
            ));
        }
    } else if cmd.mention_all || !cmd.mentions.is_empty() {
        return Err(DomainError::Invalid(
            "mentions are for group messages".into(),
        ));
    }
    cmd.body.validate(cmd.limits)?;
    if let Some(file) = cmd.body.attachment()
        && !state.files.readable(&file.file_id)
    {
        return Err(DomainError::NotFound(format!(
            "file {} (recalled)",
            file.file_id
        )));
    }
    let reply_to = match &cmd.reply_to {
        None => None,
        Some(target) => {
            // A message of this conversation, not recalled (a later recall shows in the quote).
            let exists = target.conv_seq > 0 && target.conv_seq <= state.last_conv_seq;
            if !exists || state.note(target.conv_seq).recalled.is_some() {
                return Err(DomainError::NotFound("the message replied to".into()));
            }
            Some(ReplyRef {
                msg_id: target.msg_id.clone(),
                conv_seq: target.conv_seq,
                from: target.from.clone(),
            })
        }
    };
    // Never earlier than the newest message, whatever the clock of the api instance that
    // decides: history pages by time rely on `ts` not decreasing along `conv_seq`.
    let ts = cmd.ts.max(state.sent.newest_ts);
    Ok(vec![Event::MessageSent(MessageSent {
        app: cmd.app.clone(),
        conv: ConvId::between(&cmd.from, &cmd.to),
        msg_id: cmd.msg_id.clone(),
        conv_seq: state.last_conv_seq + 1,
        from: cmd.from.clone(),
        to: cmd.to.clone(),
        client_msg_id: cmd.client_msg_id.clone(),
        body: cmd.body.clone(),
        mentions: cmd.mentions.clone(),
        mention_all: cmd.mention_all,
        reply_to,
        forward_of: cmd.forward_of.clone(),
        ts,
    })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::PairCommand;

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn fresh_msg_id() -> MessageId {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        MessageId::parse(format!("0190a6e4-8c1e-7c3a-9f00-{n:012x}")).unwrap()
    }

    fn send_by(from: &str, cmid: &str, text: &str, ts: i64) -> ConvCommand {
        let to = if from == "alice" { "bob" } else { "alice" };
        ConvCommand::Send(SendMessage {
            app: AppId::parse("app").unwrap(),
            from: u(from),
            to: Recipient::User(u(to)),
            client_msg_id: ClientMsgId::parse(cmid).unwrap(),
            body: Body::Text { text: text.into() },
            mentions: Vec::new(),
            mention_all: false,
            reply_to: None,
            forward_of: None,
            msg_id: fresh_msg_id(),
            ts,
            limits: BodyLimits::default(),
            policy: MessagingPolicy::Open,
        })
    }

    fn send(cmid: &str, text: &str) -> ConvCommand {
        send_by("alice", cmid, text, 7)
    }

    fn with_policy(command: ConvCommand, policy: MessagingPolicy) -> ConvCommand {
        match command {
            ConvCommand::Send(send) => ConvCommand::Send(SendMessage { policy, ..send }),
            other => other,
        }
    }

    /// Decides and applies; the events recorded.
    fn run(state: &mut ConvState, command: &ConvCommand) -> Result<Vec<Event>, DomainError> {
        let events = state.decide(command)?;
        events.iter().for_each(|e| state.apply(e));
        Ok(events)
    }

    fn record(state: &mut ConvState, command: ConvCommand) -> MessageSent {
        match &run(state, &command).unwrap()[..] {
            [Event::MessageSent(m)] => m.clone(),
            other => panic!("expected a new message, got {other:?}"),
        }
    }

    fn cmid(s: &str) -> ClientMsgId {
        ClientMsgId::parse(s).unwrap()
    }

    #[test]
    fn conv_seq_is_gapless() {
        let mut state = ConvState::default();
        assert_eq!(record(&mut state, send("a", "1")).conv_seq, 1);
        assert_eq!(record(&mut state, send("b", "2")).conv_seq, 2);
        assert_eq!(record(&mut state, send("c", "3")).conv_seq, 3);
    }

    #[test]
    fn a_retry_gets_the_original_receipt() {
        let mut state = ConvState::default();
        let first = record(&mut state, send("a", "1"));
        record(&mut state, send("b", "2"));
        assert_eq!(run(&mut state, &send("a", "changed")), Ok(Vec::new()));
        let receipt = state.receipt(&u("alice"), &cmid("a")).unwrap();
        assert_eq!(
            receipt,
            Receipt {
                conv: first.conv,
                msg_id: first.msg_id,
                conv_seq: first.conv_seq,
                ts: first.ts
            }
        );
        assert_eq!(
            state.receipt(&u("bob"), &cmid("a")),
            None,
            "keyed by sender"
        );
    }

    #[test]
    fn a_senders_entry_is_found_whether_or_not_its_numbers_have_gaps() {
        let entry = |nth: u64| SentEntry {
            nth,
            client_msg_id: cmid(&format!("m{nth}")),
            msg_id: MessageId::parse(format!("019b7b1c-3a00-7000-8000-{nth:012}")).unwrap(),
            conv_seq: nth,
            ts: 0,
        };
        for numbers in [vec![3, 4, 5, 6], vec![1, 2, 5, 6, 9]] {
            let mut record = SenderRecord::default();
            for nth in &numbers {
                record.push(entry(*nth));
            }
            for nth in &numbers {
                let found = record.newest(&cmid(&format!("m{nth}")));
                assert_eq!(found.map(|e| e.nth), Some(*nth), "{numbers:?}");
            }
            assert!(record.newest(&cmid("m7")).is_none());
        }
    }

    #[test]
    fn a_message_is_never_earlier_than_the_one_before_it() {
        let mut state = ConvState::default();
        assert_eq!(
            record(&mut state, send_by("alice", "a", "1", 1_000)).ts,
            1_000
        );
        // An api instance whose clock is behind: the message keeps the newest time.
        assert_eq!(record(&mut state, send_by("bob", "b", "2", 900)).ts, 1_000);
        assert_eq!(
            record(&mut state, send_by("alice", "c", "3", 1_200)).ts,
            1_200
        );
        assert_eq!(
            record(&mut state, send_by("bob", "d", "4", 1_100)).ts,
            1_200
        );
        let receipt = state.receipt(&u("bob"), &cmid("d")).unwrap();
        assert_eq!(
            (receipt.conv_seq, receipt.ts),
            (4, 1_200),
            "the sender is told the recorded time"
        );
    }

    #[test]
    fn oversize_body_is_refused() {
        let state = ConvState::default();
        let err = state.decide(&send("a", &"x".repeat(5000)));
        assert!(matches!(err, Err(DomainError::InvalidBody(_))));
    }

    #[test]
    fn blocks_and_the_friends_only_policy_refuse_sends() {
        let pair = |actor: &str, other: &str, command, ts| {
            ConvCommand::Pair(ChangePair {
                app: AppId::parse("app").unwrap(),
                actor: u(actor),
                other: u(other),
                command,
                ts,
            })
        };
        let mut state = ConvState::default();
        let friends_only = |c| with_policy(c, MessagingPolicy::FriendsOnly);
        assert!(matches!(
            state.decide(&friends_only(send("a", "x"))),
            Err(DomainError::NotFriends(_))
        ));
        run(&mut state, &pair("alice", "bob", PairCommand::Add, 1)).unwrap();
        assert!(state.decide(&friends_only(send("a", "x"))).is_ok());
        run(&mut state, &pair("bob", "alice", PairCommand::Block, 2)).unwrap();
        assert!(matches!(
            state.decide(&send("a", "x")),
            Err(DomainError::Blocked(_))
        ));
    }

    #[test]
    fn a_sender_is_remembered_for_their_newest_messages_and_the_last_minutes() {
        let mut state = ConvState::default();
        let first = record(&mut state, send_by("alice", "c0", "x", 10));
        for i in 1..IDEMPOTENCY_PER_SENDER {
            record(&mut state, send_by("alice", &format!("c{i}"), "x", 10));
            // Another sender's messages never push alice's out.
            record(&mut state, send_by("bob", &format!("c{i}"), "x", 10));
        }
        assert_eq!(
            run(&mut state, &send_by("alice", "c0", "x", 11)),
            Ok(vec![])
        );
        record(&mut state, send_by("alice", "new", "x", 11));
        assert!(
            state.receipt(&u("alice"), &cmid("c0")).is_some(),
            "129 messages ago, but within the last minutes"
        );
        let later = 10 + IDEMPOTENCY_MIN_MS + 1;
        record(&mut state, send_by("alice", "later", "x", later));
        assert_eq!(state.receipt(&u("alice"), &cmid("c0")), None);
        assert_eq!(state.receipt(&u("alice"), &cmid("c1")), None);
        assert!(
            state.receipt(&u("alice"), &cmid("c2")).is_some(),
            "the last 128"
        );
        let again = record(&mut state, send_by("alice", "c0", "x", later));
        assert_ne!(
            again.msg_id, first.msg_id,
            "past the horizon: a new message"
        );
    }

    #[test]
    fn a_burst_is_remembered_up_to_the_cap() {
        let mut state = ConvState::default();
        let total = IDEMPOTENCY_MAX_PER_SENDER + 10;
        for i in 0..total {
            record(&mut state, send_by("alice", &format!("c{i}"), "x", 10));
        }
        assert_eq!(state.remembered() as u64, IDEMPOTENCY_MAX_PER_SENDER);
        assert_eq!(state.receipt(&u("alice"), &cmid("c9")), None);
        assert!(state.receipt(&u("alice"), &cmid("c10")).is_some());
    }

    #[test]
    fn the_horizon_is_measured_from_the_newest_message() {
        let mut state = ConvState::default();
        record(&mut state, send_by("alice", "old", "x", 1_000));
        // Idle for a week: the newest message is still "old", so it is still recognised.
        assert!(state.receipt(&u("alice"), &cmid("old")).is_some());
        record(
            &mut state,
            send_by("bob", "b", "x", 1_000 + IDEMPOTENCY_HORIZON_MS),
        );
        assert!(
            state.receipt(&u("alice"), &cmid("old")).is_some(),
            "just inside"
        );
        record(
            &mut state,
            send_by("bob", "c", "x", 1_001 + IDEMPOTENCY_HORIZON_MS),
        );
        assert_eq!(state.receipt(&u("alice"), &cmid("old")), None);
    }

    #[test]
    fn a_file_is_readable_until_every_message_naming_it_is_recalled() {
        let file = crate::FileId::parse("0190a6e4-8c1e-7c3a-9f00-0123456789ab").unwrap();
        let naming = |cmid: &str| match send(cmid, "x") {
            ConvCommand::Send(s) => ConvCommand::Send(SendMessage {
                body: Body::File(Box::new(crate::Attachment {
                    file_id: file.clone(),
                    name: "a.pdf".into(),
                    size: 3,
                    mime: "application/pdf".into(),
                    width: None,
                    height: None,
                })),
                ..s
            }),
            other => other,
        };
        let recall = |state: &ConvState, m: &MessageSent| {
            ConvCommand::Recall(RecallMessage {
                app: m.app.clone(),
                conv: m.conv.clone(),
                target: state.recent_facts(&m.msg_id).unwrap().clone(),
                by: Actor::App,
                ts: 8,
                window_secs: 0,
            })
        };
        let mut state = ConvState::default();
        assert!(state.file_readable(&file), "uploaded, not sent yet");
        let first = record(&mut state, naming("a"));
        let second = record(&mut state, naming("b"));
        let mut events = Vec::new();
        let command = recall(&state, &first);
        events.extend(run(&mut state, &command).unwrap());
        assert!(
            state.file_readable(&file),
            "the second message still names it"
        );
        let command = recall(&state, &first);
        events.extend(run(&mut state, &command).unwrap());
        assert!(
            events.len() == 1 && state.file_readable(&file),
            "a repeat recalls nothing"
        );
        // Positional MessagePack, as the api's snapshots encode states.
        let snapshot: ConvState =
            rmp_serde::from_slice(&rmp_serde::to_vec(&state).unwrap()).unwrap();
        let command = recall(&state, &second);
        events.extend(run(&mut state, &command).unwrap());
        assert!(!state.file_readable(&file));
        let mut restored = snapshot;
        restored.apply(events.last().unwrap());
        assert_eq!(
            restored, state,
            "a snapshot folds on like the whole history"
        );
        assert!(matches!(
            state.decide(&naming("c")),
            Err(DomainError::NotFound(_))
        ));
    }

    #[test]
    fn the_record_stays_bounded_and_a_restored_snapshot_folds_like_the_whole_history() {
        let mut events = Vec::new();
        let mut full = ConvState::default();
        for i in 0..5_000i64 {
            let sender = ["alice", "bob"][i as usize % 2];
            // One message a minute: the horizon (24 h) holds 1,440 of them.
            let command = send_by(sender, &format!("c{i}"), "x", i * 60_000);
            events.extend(run(&mut full, &command).unwrap());
        }
        assert_eq!(full.last_conv_seq, 5_000);
        assert!(full.remembered() <= 2 * IDEMPOTENCY_PER_SENDER as usize);

        for cut in [0, 1, 1_023, 1_024, 2_500, 4_999] {
            let mut partial = ConvState::default();
            events[..cut].iter().for_each(|e| partial.apply(e));
            // Positional MessagePack, as the api's snapshots encode states.
            let bytes = rmp_serde::to_vec(&partial).unwrap();
            let mut restored: ConvState = rmp_serde::from_slice(&bytes).unwrap();
            events[cut..].iter().for_each(|e| restored.apply(e));
            assert_eq!(restored, full, "snapshot after {cut} events");
        }
    }

    #[test]
    fn a_reply_names_a_message_of_this_conversation_that_is_not_recalled() {
        let mut state = ConvState::default();
        let original = record(&mut state, send("c1", "hi"));
        let facts = state.recent_facts_at(original.conv_seq).unwrap().clone();
        let reply = |cmid: &str, target: &MessageFacts| match send_by("bob", cmid, "re", 9) {
            ConvCommand::Send(s) => ConvCommand::Send(SendMessage {
                reply_to: Some(target.clone()),
                ..s
            }),
            other => other,
        };
        let answered = record(&mut state, reply("r1", &facts));
        assert_eq!(
            answered.reply_to,
            Some(ReplyRef {
                msg_id: original.msg_id.clone(),
                conv_seq: 1,
                from: u("alice"),
            })
        );
        let ahead = MessageFacts {
            conv_seq: 9,
            ..facts.clone()
        };
        assert!(matches!(
            state.decide(&reply("r2", &ahead)),
            Err(DomainError::NotFound(_))
        ));
        state.apply(&Event::MessageRecalled(crate::event::MessageRecalled {
            app: original.app.clone(),
            conv: original.conv.clone(),
            conv_seq: 1,
            msg_id: original.msg_id.clone(),
            by: None,
            ts: 10,
        }));
        assert!(matches!(
            state.decide(&reply("r3", &facts)),
            Err(DomainError::NotFound(_))
        ));
    }
}
