//! Version 2 of `message_sent` (adds mentions), and version 1 of the events that came after
//! it: group changes, read markers and system messages.

use crate::wire::v1::{BodyV1, MessageSentV1, RecipientV1};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::{
    ConversationRead, GroupChange, GroupChanged, MessageSent, SystemMessageSent,
};
use tidings_domain::group::JoinPolicy;
use tidings_domain::{AppId, ClientMsgId, ConvId, GroupId, IdError, MessageId, UserId};

/// `message_sent`, version 2: version 1 plus `mentions` and `mention_all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageSentV2 {
    pub app: String,
    pub conv: String,
    pub msg_id: String,
    pub conv_seq: u64,
    pub from: String,
    pub to: RecipientV1,
    pub client_msg_id: String,
    pub body: BodyV1,
    pub mentions: Vec<String>,
    pub mention_all: bool,
    pub ts: i64,
}

/// Version 1 had no mentions: it upgrades to version 2 with none.
impl From<MessageSentV1> for MessageSentV2 {
    fn from(w: MessageSentV1) -> Self {
        MessageSentV2 {
            app: w.app,
            conv: w.conv,
            msg_id: w.msg_id,
            conv_seq: w.conv_seq,
            from: w.from,
            to: w.to,
            client_msg_id: w.client_msg_id,
            body: w.body,
            mentions: Vec::new(),
            mention_all: false,
            ts: w.ts,
        }
    }
}

impl TryFrom<MessageSentV2> for MessageSent {
    type Error = IdError;
    fn try_from(w: MessageSentV2) -> Result<Self, IdError> {
        Ok(MessageSent {
            app: AppId::parse(w.app)?,
            conv: ConvId::parse(w.conv)?,
            msg_id: MessageId::parse(w.msg_id)?,
            conv_seq: w.conv_seq,
            from: UserId::parse(w.from)?,
            to: w.to.try_into()?,
            client_msg_id: ClientMsgId::parse(w.client_msg_id)?,
            body: w.body.into(),
            mentions: w
                .mentions
                .into_iter()
                .map(UserId::parse)
                .collect::<Result<_, _>>()?,
            mention_all: w.mention_all,
            ts: w.ts,
        })
    }
}

impl From<&MessageSent> for MessageSentV2 {
    fn from(m: &MessageSent) -> Self {
        MessageSentV2 {
            app: m.app.to_string(),
            conv: m.conv.to_string(),
            msg_id: m.msg_id.to_string(),
            conv_seq: m.conv_seq,
            from: m.from.to_string(),
            to: (&m.to).into(),
            client_msg_id: m.client_msg_id.to_string(),
            body: (&m.body).into(),
            mentions: m.mentions.iter().map(ToString::to_string).collect(),
            mention_all: m.mention_all,
            ts: m.ts,
        }
    }
}

/// Every group change, version 1; the type header says which change, and only the fields that
/// change uses are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupChangedV1 {
    pub app: String,
    pub group: String,
    pub conv: String,
    pub actor: String,
    pub ts: i64,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub intro: Option<String>,
    /// `open`, `approval` or `invite_only`.
    pub join_policy: Option<String>,
    #[serde(default)]
    pub users: Vec<String>,
    pub user: Option<String>,
    pub flag: Option<bool>,
    pub note: Option<String>,
    pub text: Option<String>,
}

fn policy_text(p: JoinPolicy) -> String {
    match p {
        JoinPolicy::Open => "open",
        JoinPolicy::Approval => "approval",
        JoinPolicy::InviteOnly => "invite_only",
    }
    .into()
}

fn policy(text: Option<String>) -> JoinPolicy {
    match text.as_deref() {
        Some("open") => JoinPolicy::Open,
        Some("invite_only") => JoinPolicy::InviteOnly,
        _ => JoinPolicy::Approval,
    }
}

/// Why a group event's fields do not fit its type.
#[derive(Debug, thiserror::Error)]
pub enum GroupWireError {
    #[error("{0}")]
    Id(#[from] IdError),
    #[error("field {0} is missing")]
    Missing(&'static str),
}

impl GroupChangedV1 {
    /// Upgrades into the domain event, given the change its type header names.
    pub fn upgrade(self, event_type: &str) -> Result<Option<GroupChanged>, GroupWireError> {
        let user = |u: Option<String>| -> Result<UserId, GroupWireError> {
            Ok(UserId::parse(u.ok_or(GroupWireError::Missing("user"))?)?)
        };
        let flag = self.flag.ok_or(GroupWireError::Missing("flag"));
        let users = self
            .users
            .iter()
            .cloned()
            .map(UserId::parse)
            .collect::<Result<Vec<_>, _>>();
        let change = match event_type {
            "group_created" => GroupChange::Created {
                name: self.name.clone().ok_or(GroupWireError::Missing("name"))?,
                avatar_url: self.avatar_url.clone(),
                intro: self.intro.clone(),
                join_policy: policy(self.join_policy.clone()),
                members: users?,
            },
            "group_updated" => GroupChange::Updated {
                name: self.name.clone().ok_or(GroupWireError::Missing("name"))?,
                avatar_url: self.avatar_url.clone(),
                intro: self.intro.clone(),
                join_policy: policy(self.join_policy.clone()),
            },
            "group_dismissed" => GroupChange::Dismissed,
            "group_owner_transferred" => GroupChange::OwnerTransferred {
                to: user(self.user.clone())?,
            },
            "group_admin_set" => GroupChange::AdminSet {
                user: user(self.user.clone())?,
                admin: flag?,
            },
            "group_members_added" => GroupChange::MembersAdded { users: users? },
            "group_member_removed" => GroupChange::MemberRemoved {
                user: user(self.user.clone())?,
                kicked: flag?,
            },
            "group_join_requested" => GroupChange::JoinRequested {
                note: self.note.clone(),
            },
            "group_join_decided" => GroupChange::JoinDecided {
                user: user(self.user.clone())?,
                approved: flag?,
            },
            "group_announced" => GroupChange::Announced {
                text: self.text.clone().ok_or(GroupWireError::Missing("text"))?,
            },
            "group_member_muted" => GroupChange::MemberMuted {
                user: user(self.user.clone())?,
                muted: flag?,
            },
            "group_muted_all" => GroupChange::MutedAll { muted: flag? },
            _ => return Ok(None),
        };
        Ok(Some(GroupChanged {
            app: AppId::parse(self.app)?,
            group: GroupId::parse(self.group)?,
            conv: ConvId::parse(self.conv)?,
            actor: UserId::parse(self.actor)?,
            change,
            ts: self.ts,
        }))
    }
}

impl From<&GroupChanged> for GroupChangedV1 {
    fn from(g: &GroupChanged) -> Self {
        let mut w = GroupChangedV1 {
            app: g.app.to_string(),
            group: g.group.to_string(),
            conv: g.conv.to_string(),
            actor: g.actor.to_string(),
            ts: g.ts,
            ..Default::default()
        };
        let ids = |users: &[UserId]| users.iter().map(ToString::to_string).collect();
        match &g.change {
            GroupChange::Created {
                name,
                avatar_url,
                intro,
                join_policy,
                members,
            } => {
                w.name = Some(name.clone());
                w.avatar_url = avatar_url.clone();
                w.intro = intro.clone();
                w.join_policy = Some(policy_text(*join_policy));
                w.users = ids(members);
            }
            GroupChange::Updated {
                name,
                avatar_url,
                intro,
                join_policy,
            } => {
                w.name = Some(name.clone());
                w.avatar_url = avatar_url.clone();
                w.intro = intro.clone();
                w.join_policy = Some(policy_text(*join_policy));
            }
            GroupChange::Dismissed => {}
            GroupChange::OwnerTransferred { to } => w.user = Some(to.to_string()),
            GroupChange::AdminSet { user, admin: flag }
            | GroupChange::MemberRemoved { user, kicked: flag }
            | GroupChange::JoinDecided {
                user,
                approved: flag,
            }
            | GroupChange::MemberMuted { user, muted: flag } => {
                w.user = Some(user.to_string());
                w.flag = Some(*flag);
            }
            GroupChange::MembersAdded { users } => w.users = ids(users),
            GroupChange::JoinRequested { note } => w.note = note.clone(),
            GroupChange::Announced { text } => w.text = Some(text.clone()),
            GroupChange::MutedAll { muted } => w.flag = Some(*muted),
        }
        w
    }
}

/// `conversation_read`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationReadV1 {
    pub app: String,
    pub user: String,
    pub conv: String,
    pub conv_seq: u64,
    pub ts: i64,
}

impl TryFrom<ConversationReadV1> for ConversationRead {
    type Error = IdError;
    fn try_from(w: ConversationReadV1) -> Result<Self, IdError> {
        Ok(ConversationRead {
            app: AppId::parse(w.app)?,
            user: UserId::parse(w.user)?,
            conv: ConvId::parse(w.conv)?,
            conv_seq: w.conv_seq,
            ts: w.ts,
        })
    }
}

impl From<&ConversationRead> for ConversationReadV1 {
    fn from(r: &ConversationRead) -> Self {
        ConversationReadV1 {
            app: r.app.to_string(),
            user: r.user.to_string(),
            conv: r.conv.to_string(),
            conv_seq: r.conv_seq,
            ts: r.ts,
        }
    }
}

/// `system_message_sent`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemMessageSentV1 {
    pub app: String,
    pub msg_id: String,
    pub to: Vec<String>,
    pub body: BodyV1,
    pub ts: i64,
}

impl TryFrom<SystemMessageSentV1> for SystemMessageSent {
    type Error = IdError;
    fn try_from(w: SystemMessageSentV1) -> Result<Self, IdError> {
        Ok(SystemMessageSent {
            app: AppId::parse(w.app)?,
            msg_id: MessageId::parse(w.msg_id)?,
            to: w
                .to
                .into_iter()
                .map(UserId::parse)
                .collect::<Result<_, _>>()?,
            body: w.body.into(),
            ts: w.ts,
        })
    }
}

impl From<&SystemMessageSent> for SystemMessageSentV1 {
    fn from(m: &SystemMessageSent) -> Self {
        SystemMessageSentV1 {
            app: m.app.to_string(),
            msg_id: m.msg_id.to_string(),
            to: m.to.iter().map(ToString::to_string).collect(),
            body: (&m.body).into(),
            ts: m.ts,
        }
    }
}
