//! `direct --screens`: the same direct workload through apps that screen every message
//! differently, run alternately so each variant meets the same machine state: `none` (a
//! runtime app without screens), `hook` (a NATS before-send hook this tool answers at once with
//! `allow`) and `words` (a `mask` list of `--words` words, none of which occurs in the
//! benchmark's texts, so every message is matched in full and left as it is), and `limit` (a
//! per-user message limit too high to refuse anything, so every send pays for its counter).

use std::time::{SystemTime, UNIX_EPOCH};
use tidings_testkit::ServerApi;

/// One way of screening messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Screen {
    None,
    Hook,
    Words,
    Limit,
}

impl Screen {
    pub fn name(self) -> &'static str {
        match self {
            Screen::None => "none",
            Screen::Hook => "hook",
            Screen::Words => "words",
            Screen::Limit => "limit",
        }
    }
}

/// What the screened runs need besides the server.
#[derive(Debug, Clone, clap::Args)]
pub struct ScreenArgs {
    /// Alternate runs through apps with these screens (`none`, `hook`, `words`, `limit`); each gets
    /// `--runs` runs. Needs the admin credential; without the option the development app is
    /// used as it is.
    #[arg(long, value_delimiter = ',')]
    pub screens: Vec<Screen>,
    #[arg(long, env = "TIDINGS_ADMIN_KEY")]
    pub admin_key: Option<String>,
    #[arg(long, env = "TIDINGS_ADMIN_SECRET")]
    pub admin_secret: Option<String>,
    /// The server's NATS, where this tool answers the `hook` app's before-send requests.
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// Words in the `words` app's list.
    #[arg(long, default_value_t = 5000)]
    pub words: usize,
}

/// Creates the app of `screen` through the admin API (answering its hook, filling its list);
/// its server-API client.
pub async fn app(args: &ScreenArgs, url: &str, screen: Screen) -> anyhow::Result<ServerApi> {
    let (Some(key), Some(secret)) = (&args.admin_key, &args.admin_secret) else {
        anyhow::bail!("--screens needs --admin-key and --admin-secret");
    };
    let admin = ServerApi::new(url, key, secret);
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let app = format!("bench-{}-{stamp}", screen.name());
    let settings = match screen {
        Screen::Hook => serde_json::json!({"before_send": {"nats": true}}),
        Screen::Limit => serde_json::json!({"user_msgs_per_sec": 1_000_000}),
        Screen::None | Screen::Words => serde_json::json!({}),
    };
    let created = admin
        .post(
            "/v1/admin/apps",
            &serde_json::json!({"key": app, "settings": settings}),
        )
        .await;
    anyhow::ensure!(created.status == 200, "creating {app}: {:?}", created.body);
    let secret = created.body["secret"].as_str().unwrap_or_default();
    let api = ServerApi::new(url, &app, secret);
    match screen {
        Screen::None | Screen::Limit => {}
        Screen::Hook => answer_hook(args, &app).await?,
        Screen::Words => {
            // Letters only: the benchmark's texts are digits, spaces and `x`.
            let words: Vec<String> = (0..args.words)
                .map(|i| {
                    let mut word = String::from("ban");
                    let mut n = i;
                    loop {
                        word.push((b'a' + (n % 23) as u8) as char);
                        n /= 23;
                        if n == 0 {
                            break word;
                        }
                    }
                })
                .collect();
            let list = api
                .post(
                    "/v1/words/bench",
                    &serde_json::json!({"action": "mask", "add": words}),
                )
                .await;
            anyhow::ensure!(list.status == 200, "filling the list: {:?}", list.body);
            println!("words: {} in the list of {app}", list.body["count"]);
        }
    }
    Ok(api)
}

/// Answers every before-send request of `app` with `allow`, at once.
async fn answer_hook(args: &ScreenArgs, app: &str) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let Some(url) = &args.nats_url else {
        anyhow::bail!("the hook screen needs --nats-url (or NATS_URL)");
    };
    let client = async_nats::connect(url).await?;
    let mut requests = client
        .subscribe(format!("tid.hook.{app}.before_send"))
        .await?;
    client.flush().await?;
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = client.publish(reply, r#"{"action":"allow"}"#.into()).await;
            }
        }
    });
    Ok(())
}
