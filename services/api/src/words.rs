//! Sensitive-word lists: per app, named lists of words with an action each (`reject` or
//! `mask`), kept in the `TIDINGS_WORDS` KV bucket (`nats/kv/words.json`), one key per list
//! (`<app>.<list>`). Changes are compare-and-set on the list's key, so concurrent changes from
//! any api instance all hold. Every instance watches the bucket and rebuilds an app's matcher
//! when one of its lists changes, so a change applies on every instance within milliseconds,
//! and lists outlive restarts (the bucket is file-backed and replicated like the stream).

use crate::error::{ApiError, ErrorCode};
use crate::word_filter::{Verdict, WordAction, WordFilter, normalize};
use async_nats::jetstream::kv::{self, Operation};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tidings_domain::AppId;
use tidings_events::definitions;
use tidings_runtime::metrics as names;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Most words in one list.
pub const MAX_WORDS: usize = 10_000;
/// Longest word, in characters once normalised.
pub const MAX_WORD_CHARS: usize = 32;
/// Longest list name.
const MAX_LIST_NAME: usize = 64;
/// Attempts at a compare-and-set before giving up (`conflict`).
const CAS_ATTEMPTS: usize = 16;
/// How long to wait before watching again after the watch ended.
const REWATCH: Duration = Duration::from_secs(1);

/// One list as stored: its action and its words, normalised and sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordList {
    pub action: WordAction,
    pub words: BTreeSet<String>,
}

/// A change to one list: its action, words to add, words to remove.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListChange {
    #[serde(default)]
    pub action: Option<WordAction>,
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Lists as this instance last saw them, per app, and each app's matcher.
#[derive(Default)]
struct Seen {
    lists: HashMap<AppId, BTreeMap<String, (u64, WordList)>>,
    filters: HashMap<AppId, Arc<WordFilter>>,
}

struct Inner {
    kv: kv::Store,
    seen: RwLock<Seen>,
    _stop: DropGuard,
}

/// The word lists, cheap to clone.
#[derive(Clone)]
pub struct Words(Arc<Inner>);

fn key(app: &AppId, list: &str) -> String {
    format!("{app}.{list}")
}

/// Checks a list name: 1-64 characters of `[A-Za-z0-9_-]`.
pub fn check_list_name(list: &str) -> Result<(), ApiError> {
    let valid = (1..=MAX_LIST_NAME).contains(&list.len())
        && list
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidId,
            "a list name is 1-64 characters of A-Z a-z 0-9 _ -",
        ))
    }
}

impl Words {
    /// Provisions the bucket, loads every list, and starts following changes.
    pub async fn open(
        js: &async_nats::jetstream::Context,
        replicas: usize,
    ) -> anyhow::Result<Self> {
        let kv = js
            .create_or_update_key_value(definitions::words_bucket(replicas))
            .await?;
        let stop = CancellationToken::new();
        let words = Self(Arc::new(Inner {
            kv: kv.clone(),
            seen: RwLock::default(),
            _stop: stop.clone().drop_guard(),
        }));
        let mut keys = kv.keys().await?;
        let mut loaded = Vec::new();
        while let Some(key) = keys.next().await {
            loaded.push(key?);
        }
        for key in loaded {
            if let Some(entry) = kv.entry(key).await? {
                words.apply(&entry);
            }
        }
        tokio::spawn(follow(Arc::downgrade(&words.0), kv, stop));
        Ok(words)
    }

    /// Takes in one entry of the bucket, if it is newer than what this instance holds, and
    /// rebuilds its app's matcher.
    fn apply(&self, entry: &kv::Entry) {
        let Some((app, list)) = entry
            .key
            .split_once('.')
            .and_then(|(app, list)| Some((AppId::parse(app).ok()?, list.to_owned())))
        else {
            tracing::warn!(key = %entry.key, "a word-list key names no app");
            return;
        };
        let value = match entry.operation {
            Operation::Put => match serde_json::from_slice::<WordList>(&entry.value) {
                Ok(value) => Some(value),
                Err(error) => {
                    tracing::error!(key = %entry.key, %error, "an unreadable word list");
                    return;
                }
            },
            Operation::Delete | Operation::Purge => None,
        };
        let mut seen = self.0.seen.write().unwrap_or_else(|e| e.into_inner());
        let lists = seen.lists.entry(app.clone()).or_default();
        if lists
            .get(&list)
            .is_some_and(|(revision, _)| *revision >= entry.revision)
        {
            return;
        }
        match value {
            Some(value) => lists.insert(list, (entry.revision, value)),
            None => lists.remove(&list),
        };
        let filter = WordFilter::build(
            lists
                .values()
                .flat_map(|(_, l)| l.words.iter().map(move |w| (l.action, w.as_str()))),
        );
        match filter {
            Some(filter) => seen.filters.insert(app, Arc::new(filter)),
            None => seen.filters.remove(&app),
        };
    }

    /// The app's matcher's verdict on a text.
    pub fn check(&self, app: &AppId, text: &str) -> Verdict {
        let filter = {
            let seen = self.0.seen.read().unwrap_or_else(|e| e.into_inner());
            seen.filters.get(app).cloned()
        };
        let verdict = filter.map_or(Verdict::Clean, |f| f.check(text));
        let action = match &verdict {
            Verdict::Clean => return verdict,
            Verdict::Masked(_) => "mask",
            Verdict::Rejected(_) => "reject",
        };
        metrics::counter!(names::WORD_MATCHES, "action" => action).increment(1);
        verdict
    }

    /// One list as stored now (read from the bucket, not this instance's copy).
    pub async fn get(&self, app: &AppId, list: &str) -> Result<Option<WordList>, ApiError> {
        check_list_name(list)?;
        let entry = self
            .0
            .kv
            .entry(key(app, list))
            .await
            .map_err(|e| ApiError::unavailable("reading a word list", e))?;
        Ok(entry
            .filter(|e| e.operation == Operation::Put)
            .and_then(|e| serde_json::from_slice(&e.value).ok()))
    }

    /// The app's lists as stored now: name, action and word count.
    pub async fn lists(&self, app: &AppId) -> Result<Vec<(String, WordList)>, ApiError> {
        let mut keys = self
            .0
            .kv
            .keys()
            .await
            .map_err(|e| ApiError::unavailable("listing word lists", e))?;
        let prefix = format!("{app}.");
        let mut names = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| ApiError::unavailable("listing word lists", e))?;
            if let Some(list) = key.strip_prefix(&prefix) {
                names.push(list.to_owned());
            }
        }
        names.sort();
        let mut lists = Vec::new();
        for list in names {
            if let Some(value) = self.get(app, &list).await? {
                lists.push((list, value));
            }
        }
        Ok(lists)
    }

    /// Applies `change` to a list (created on first change, with action `reject` unless the
    /// change names one), compare-and-set on its key; answers the list as stored.
    pub async fn change(
        &self,
        app: &AppId,
        list: &str,
        change: &ListChange,
    ) -> Result<WordList, ApiError> {
        check_list_name(list)?;
        let add = normalized(&change.add)?;
        let remove = normalized(&change.remove)?;
        let key = key(app, list);
        for _ in 0..CAS_ATTEMPTS {
            let entry = self
                .0
                .kv
                .entry(key.clone())
                .await
                .map_err(|e| ApiError::unavailable("reading a word list", e))?
                .filter(|e| e.operation == Operation::Put);
            let mut value: WordList = match &entry {
                Some(e) => serde_json::from_slice(&e.value)
                    .map_err(|e| ApiError::unavailable("reading a word list", e))?,
                None => WordList::default(),
            };
            if let Some(action) = change.action {
                value.action = action;
            }
            value.words.extend(add.iter().cloned());
            value.words.retain(|w| !remove.contains(w));
            if value.words.len() > MAX_WORDS {
                return Err(ApiError::new(
                    ErrorCode::TooLarge,
                    format!("a list holds at most {MAX_WORDS} words"),
                ));
            }
            let bytes: bytes::Bytes = serde_json::to_vec(&value)
                .expect("a word list serializes")
                .into();
            let written = match &entry {
                Some(e) => self
                    .0
                    .kv
                    .update(&key, bytes, e.revision)
                    .await
                    .map_err(|e| {
                        (
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            e.to_string(),
                        )
                    }),
                None => self.0.kv.create(&key, bytes).await.map_err(|e| {
                    (
                        e.kind() == kv::CreateErrorKind::AlreadyExists,
                        e.to_string(),
                    )
                }),
            };
            match written {
                Ok(_) => return Ok(value),
                // Another change came first: read it and apply this one on top.
                Err((true, _)) => continue,
                Err((false, error)) => {
                    return Err(ApiError::unavailable("writing a word list", error));
                }
            }
        }
        Err(ApiError::new(
            ErrorCode::Conflict,
            "the list kept changing under this change: try again",
        ))
    }
}

/// The normalised, non-empty forms of `words`, refusing a word too long.
fn normalized(words: &[String]) -> Result<BTreeSet<String>, ApiError> {
    if words.len() > MAX_WORDS {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("at most {MAX_WORDS} words per change"),
        ));
    }
    let mut out = BTreeSet::new();
    for word in words {
        let word = normalize(word.trim());
        if word.is_empty() || word.chars().count() > MAX_WORD_CHARS {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("a word is 1-{MAX_WORD_CHARS} characters (not blank)"),
            ));
        }
        out.insert(word);
    }
    Ok(out)
}

/// Follows the bucket until `stop` (the `Words` dropped), watching again when a watch ends.
async fn follow(words: std::sync::Weak<Inner>, kv: kv::Store, stop: CancellationToken) {
    loop {
        let watch = tokio::select! {
            _ = stop.cancelled() => return,
            watch = kv.watch_with_history(">") => watch,
        };
        match watch {
            Ok(mut watch) => loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => return,
                    next = watch.next() => next,
                };
                let Some(inner) = words.upgrade() else { return };
                match next {
                    Some(Ok(entry)) => Words(inner).apply(&entry),
                    Some(Err(error)) => {
                        tracing::warn!(%error, "watching word lists");
                        break;
                    }
                    None => break,
                }
            },
            Err(error) => tracing::warn!(%error, "watching word lists"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(REWATCH) => {}
        }
    }
}
