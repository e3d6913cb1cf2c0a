//! The server API's sensitive-word lists (`/v1/words`): list an app's lists, read one, and
//! change one (its action, words to add, words to remove). Reads and changes go to the
//! `TIDINGS_WORDS` bucket itself, so they are immediate; matching on every instance follows
//! within milliseconds (docs/protocol.md, Sensitive words).

use crate::error::{ApiError, ErrorCode};
use crate::http::ServerApiState;
use crate::json::{ApiPath, JsonBody};
use crate::signature::SignedBy;
use crate::words::{ListChange, WordList};
use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

/// The word-list routes (behind the server API's signature check).
pub(crate) fn routes() -> Router<ServerApiState> {
    Router::new()
        .route("/v1/words", get(lists))
        .route("/v1/words/{list}", get(list).post(change))
}

fn view(list: &str, value: &WordList) -> Value {
    json!({"list": list, "action": value.action, "count": value.words.len()})
}

async fn lists(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
) -> Result<Json<Value>, ApiError> {
    let lists = state.commands.words().lists(&app).await?;
    let lists: Vec<Value> = lists.iter().map(|(name, l)| view(name, l)).collect();
    Ok(Json(json!({ "lists": lists })))
}

async fn list(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(list): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let value = state
        .commands
        .words()
        .get(&app, &list)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("word list {list}")))?;
    let mut answer = view(&list, &value);
    answer["words"] = json!(value.words);
    Ok(Json(answer))
}

async fn change(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    ApiPath(list): ApiPath<String>,
    JsonBody(request): JsonBody<ListChange>,
) -> Result<Json<Value>, ApiError> {
    let value = state.commands.words().change(&app, &list, &request).await?;
    Ok(Json(view(&list, &value)))
}
