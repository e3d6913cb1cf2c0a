//! The actions `tidings-bench lifecycle` mixes, one entry each in [`ACTIONS`]: the frame it
//! sends, the answer it expects and what it does to the sender's pool of messages. A new
//! action (a `react` frame, say) is one more entry; `--mix` then takes its name.

/// What an action does with the messages its sender has sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Records a new message: its answer's `conv` and `msg_id` join the pool.
    Creates,
    /// Acts on a message of the pool, which stays in it.
    Uses,
    /// Acts on a message of the pool, which leaves it (it can no longer be acted on).
    Consumes,
}

/// A message of the pool, as its `sent` answer named it.
#[derive(Debug, Clone)]
pub struct Message {
    pub conv: String,
    pub msg_id: String,
}

/// What one frame is built from.
pub struct Request<'a> {
    /// The frame's `id` (its answer carries it back).
    pub id: u64,
    /// The peer a new message goes to.
    pub to: &'a str,
    /// The message acted on (for [`Target::Uses`] and [`Target::Consumes`]).
    pub message: Option<&'a Message>,
    /// Bytes of a text body.
    pub body_bytes: usize,
}

/// One kind of action.
pub struct Action {
    /// The frame's `t`, and the name in `--mix` and the report.
    pub name: &'static str,
    /// The `t` of its successful answer.
    pub answer: &'static str,
    pub target: Target,
    pub frame: fn(&Request) -> String,
}

/// Every action the benchmark knows.
pub const ACTIONS: &[Action] = &[
    Action {
        name: "send",
        answer: "sent",
        target: Target::Creates,
        frame: send,
    },
    Action {
        name: "recall",
        answer: "recalled",
        target: Target::Consumes,
        frame: recall,
    },
    Action {
        name: "edit",
        answer: "edited",
        target: Target::Uses,
        frame: edit,
    },
    Action {
        name: "react",
        answer: "reacted",
        target: Target::Uses,
        frame: react,
    },
];

fn text(id: u64, bytes: usize) -> String {
    let mut text = format!("lifecycle {id} ");
    if text.len() < bytes {
        text.extend(std::iter::repeat_n('x', bytes - text.len()));
    }
    text
}

fn send(r: &Request) -> String {
    format!(
        r#"{{"t":"send","id":"{id}","to":{{"user":"{to}"}},"client_msg_id":"l{id}","body":{{"type":"text","text":"{text}"}}}}"#,
        id = r.id,
        to = r.to,
        text = text(r.id, r.body_bytes)
    )
}

fn target<'a>(r: &Request<'a>) -> &'a Message {
    r.message
        .expect("an action on a message is only built with one")
}

fn recall(r: &Request) -> String {
    let m = target(r);
    format!(
        r#"{{"t":"recall","id":"{}","conv":"{}","msg_id":"{}"}}"#,
        r.id, m.conv, m.msg_id
    )
}

fn edit(r: &Request) -> String {
    let m = target(r);
    format!(
        r#"{{"t":"edit","id":"{}","conv":"{}","msg_id":"{}","body":{{"type":"text","text":"{}"}}}}"#,
        r.id,
        m.conv,
        m.msg_id,
        text(r.id, r.body_bytes)
    )
}

fn react(r: &Request) -> String {
    let m = target(r);
    // Alternating keys: a repeat of one key is recorded but changes nothing, as a client's
    // double tap would.
    let key = if r.id.is_multiple_of(2) { "ok" } else { "👍" };
    format!(
        r#"{{"t":"react","id":"{}","conv":"{}","msg_id":"{}","key":"{key}"}}"#,
        r.id, m.conv, m.msg_id
    )
}

/// Weights per entry of [`ACTIONS`] from `name=weight,...` (names left out weigh 0).
pub fn parse_mix(mix: &str) -> anyhow::Result<Vec<u32>> {
    let mut weights = vec![0u32; ACTIONS.len()];
    for part in mix.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--mix wants name=weight, got {part:?}"))?;
        let at = ACTIONS
            .iter()
            .position(|a| a.name == name.trim())
            .ok_or_else(|| {
                let names: Vec<_> = ACTIONS.iter().map(|a| a.name).collect();
                anyhow::anyhow!("unknown action {name:?} in --mix (known: {names:?})")
            })?;
        weights[at] = weight.trim().parse()?;
    }
    let creates = ACTIONS
        .iter()
        .zip(&weights)
        .any(|(a, w)| a.target == Target::Creates && *w > 0);
    anyhow::ensure!(
        creates,
        "--mix needs an action that creates messages (send)"
    );
    Ok(weights)
}

/// The action at position `n` of the repeating mix: each entry `weight` times in a row per
/// cycle, so every run interleaves the same way.
pub fn pick(weights: &[u32], n: u64) -> usize {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    let mut at = n % total.max(1);
    for (i, w) in weights.iter().enumerate() {
        if at < u64::from(*w) {
            return i;
        }
        at -= u64::from(*w);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_names_actions_and_repeats_in_order() {
        let weights = parse_mix("send=2, recall=1,edit=1").unwrap();
        assert_eq!(weights, vec![2, 1, 1, 0]);
        let picked: Vec<_> = (0..8).map(|n| ACTIONS[pick(&weights, n)].name).collect();
        assert_eq!(
            picked,
            [
                "send", "send", "recall", "edit", "send", "send", "recall", "edit"
            ]
        );
        assert!(parse_mix("send=1,wave=1").is_err(), "unknown names refused");
        assert!(parse_mix("recall=1").is_err(), "nothing would be sent");
    }

    #[test]
    fn frames_are_json_with_their_ids() {
        let message = Message {
            conv: "d~a~b".into(),
            msg_id: "m".into(),
        };
        for action in ACTIONS {
            let request = Request {
                id: 7,
                to: "b",
                message: Some(&message),
                body_bytes: 32,
            };
            let frame: serde_json::Value = serde_json::from_str(&(action.frame)(&request)).unwrap();
            assert_eq!(
                (frame["t"].as_str(), frame["id"].as_str()),
                (Some(action.name), Some("7"))
            );
        }
    }
}
