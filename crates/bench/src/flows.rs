//! `flow-steps`: the workflow engine's per-step overhead and its throughput of durable steps.
//!
//! - One run of N `set` cards (a pure function card: everything the step costs is the engine's).
//! - One run of N `http` cards against a local axum echo server on 127.0.0.1.
//! - Many independent runs of 10 `set` cards through `Runtime::run_available`, in durable steps/s.
//!
//! How a step is timed: the runtime opens a TRACE span `flow.step` around each step and `flow.card_work`
//! around a card's call outside the engine (the HTTP request, a host call). This benchmark installs a
//! tracing layer that notes each span's `Instant` at creation and at close. A step's wall time is the time
//! from the previous step's close to its own (so the engine's work between steps is counted too); its
//! overhead is that minus its `flow.card_work` spans. Spans are disabled outside this benchmark (a level
//! check). The recorded `started_ms`/`finished_ms` of `flow_steps` are milliseconds, too coarse for this.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use grantflow_model::SystemClock;
use grantflow_store::{FlowRunState, RunStart, Store};
use grantflow_workflows::{
    CardError, FlowSet, Host, HttpCards, HttpConnection, Performed, Prepared, Runtime, Start,
};
use serde_json::{Value as Json, json};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

use crate::database::BenchDatabase;

/// A span as timed: its name, when it was made and when it closed.
#[derive(Debug, Clone, Copy)]
struct Timed {
    name: &'static str,
    start: Instant,
    end: Instant,
}

/// The tracing layer that times the runtime's `flow.*` spans.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<Timed>>>,
}

struct Opened(Instant);

impl<S> tracing_subscriber::Layer<S> for Recorder
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Opened(Instant::now()));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        let end = Instant::now();
        let Some(span) = ctx.span(&id) else { return };
        let Some(start) = span.extensions().get::<Opened>().map(|o| o.0) else {
            return;
        };
        if let Ok(mut spans) = self.spans.lock() {
            spans.push(Timed {
                name: span.metadata().name(),
                start,
                end,
            });
        }
    }
}

impl Recorder {
    /// The process's recorder, installed as the global subscriber on first use (the benchmark has no other).
    fn global() -> anyhow::Result<Recorder> {
        static RECORDER: OnceLock<Recorder> = OnceLock::new();
        if let Some(recorder) = RECORDER.get() {
            return Ok(recorder.clone());
        }
        let recorder = Recorder::default();
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target("grantflow_workflows::run", tracing::Level::TRACE);
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::Layer::with_filter(recorder.clone(), filter),
        );
        tracing::subscriber::set_global_default(subscriber)
            .context("installing the step timer (a tracing subscriber was already set)")?;
        Ok(RECORDER.get_or_init(|| recorder).clone())
    }

    fn take(&self) -> Vec<Timed> {
        self.spans
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}

/// Per-step overheads in microseconds of one run whose spans are `spans` (one run at a time).
fn overheads(spans: &[Timed]) -> Vec<f64> {
    let mut steps: Vec<Timed> = spans
        .iter()
        .filter(|s| s.name == "flow.step")
        .copied()
        .collect();
    steps.sort_by_key(|s| s.end);
    let work: Vec<Timed> = spans
        .iter()
        .filter(|s| s.name == "flow.card_work")
        .copied()
        .collect();
    let mut previous_end: Option<Instant> = None;
    steps
        .iter()
        .map(|step| {
            let from = previous_end.unwrap_or(step.start).min(step.start);
            previous_end = Some(step.end);
            let wall = step.end.duration_since(from);
            let own: Duration = work
                .iter()
                .filter(|w| w.start >= step.start && w.end <= step.end)
                .map(|w| w.end.duration_since(w.start))
                .sum();
            wall.saturating_sub(own).as_secs_f64() * 1e6
        })
        .collect()
}

/// The value below which `q` of the sorted `values` lie.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    /// The p50 of the first and of the last tenth, in the order given: whether a step costs more as its run
    /// grows (a scan of the run's earlier steps would show here).
    pub first_tenth_p50_us: f64,
    pub last_tenth_p50_us: f64,
}

fn median_of(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    quantile(&values, 0.5)
}

fn percentiles(mut values: Vec<f64>) -> Percentiles {
    let tenth = (values.len() / 10).max(1).min(values.len());
    let first_tenth_p50_us = median_of(&values[..tenth]);
    let last_tenth_p50_us = median_of(&values[values.len() - tenth..]);
    values.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    Percentiles {
        p50_us: quantile(&values, 0.50),
        p99_us: quantile(&values, 0.99),
        mean_us: mean,
        first_tenth_p50_us,
        last_tenth_p50_us,
    }
}

/// The host of a benchmark flow: its cards are `set` and `http`, so nothing reaches it.
struct NoHost;

#[async_trait::async_trait]
impl Host for NoHost {
    async fn read(&self, card: &str, _input: &Json) -> Result<Json, CardError> {
        Err(CardError::new("bench", format!("no reads here ({card})")))
    }

    async fn prepare(
        &self,
        _actor: &str,
        card: &str,
        _input: &Json,
    ) -> Result<Prepared, CardError> {
        Err(CardError::new("bench", format!("no changes here ({card})")))
    }

    async fn perform(&self, _actor: &str, plan: &str) -> Result<Performed, CardError> {
        Err(CardError::new("bench", format!("no changes here ({plan})")))
    }

    async fn notify(&self, card: &str, _input: &Json) -> Result<Json, CardError> {
        Err(CardError::new(
            "bench",
            format!("no messages here ({card})"),
        ))
    }
}

/// A local echo server on 127.0.0.1: `POST /echo` answers its JSON body. Returns its base URL.
async fn echo_server() -> anyhow::Result<String> {
    async fn echo(body: axum::Json<Json>) -> axum::Json<Json> {
        body
    }
    let app = axum::Router::new().route("/echo", axum::routing::post(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the echo server on 127.0.0.1")?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

fn http_cards(base: &str) -> anyhow::Result<HttpCards> {
    let host = base.trim_start_matches("http://");
    let connection: HttpConnection = serde_json::from_value(json!({"allowed_hosts": [host]}))
        .context("the echo server's HTTP connection")?;
    Ok(HttpCards::new(
        BTreeMap::from([("echo".to_string(), connection)]),
        PathBuf::from("."),
    ))
}

/// A flow of `cards` steps, each made by `step(i)`.
fn flow_source(name: &str, cards: usize, step: impl Fn(usize) -> String) -> String {
    let mut text = format!("flow: {name}\ntrigger:\n  manual: {{}}\nconcurrency: 1000\nsteps:\n");
    for i in 0..cards {
        text.push_str(&step(i));
    }
    text
}

fn set_step(i: usize) -> String {
    format!("  - id: s{i}\n    card: set\n    with: {{n: {i}, note: no-op}}\n")
}

fn http_step(base: &str) -> impl Fn(usize) -> String + '_ {
    move |i| {
        format!(
            "  - id: h{i}\n    card: http\n    with: {{connection: echo, method: POST, url: \"{base}/echo\", body: {{n: {i}}}}}\n"
        )
    }
}

fn manual() -> Start {
    Start {
        trigger: "manual".into(),
        event: json!({}),
        inputs: json!({}),
        key: None,
        actor: "bench".into(),
    }
}

fn runtime<'h>(
    store: &Store,
    host: &'h NoHost,
    http: &'h HttpCards,
    flows: Arc<FlowSet>,
) -> Runtime<'h> {
    Runtime {
        store: store.clone(),
        host,
        http,
        flows,
        owner: format!("bench@{}", std::process::id()),
        lease: Duration::from_secs(60),
        dry_run: false,
    }
}

/// Starts one run of `flow` and runs it to its end; the per-step overheads and the run's wall time.
async fn one_run(
    rt: &Runtime<'_>,
    recorder: &Recorder,
    flow: &str,
) -> anyhow::Result<(Vec<f64>, Duration)> {
    let definition = rt.flows.get(flow).context("the benchmark flow")?;
    let id = match rt.start(&definition, manual()).await? {
        RunStart::Started(run) | RunStart::Duplicate(run) => run.id,
    };
    recorder.take();
    let started = Instant::now();
    let outcome = rt
        .run_now(&id)
        .await?
        .context("the benchmark's run was held by another worker")?;
    let wall = started.elapsed();
    anyhow::ensure!(
        outcome.state == FlowRunState::Succeeded,
        "the benchmark run of {flow} ended {:?}: {:?}",
        outcome.state,
        outcome.error
    );
    let steps = overheads(&recorder.take());
    anyhow::ensure!(
        steps.len() == definition.steps.len(),
        "timed {} steps of {}",
        steps.len(),
        definition.steps.len()
    );
    Ok((steps, wall))
}

/// The echo server's round trip through the HTTP card's own client, without the engine (microseconds).
async fn echo_round_trips(http: &HttpCards, base: &str, n: usize) -> anyhow::Result<Percentiles> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let input = json!({"connection": "echo", "method": "POST", "url": format!("{base}/echo"), "body": {"n": i}});
        let started = Instant::now();
        http.call(&input, &format!("bench-{i}"))
            .await
            .map_err(|e| anyhow::anyhow!("echo call: {e}"))?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(percentiles(times))
}

/// Durable steps per second of `runs` independent runs of 10 `set` cards, `concurrency` at a time.
async fn throughput(
    rt: &Runtime<'_>,
    runs: usize,
    concurrency: usize,
) -> anyhow::Result<(f64, Duration)> {
    let flow = rt.flows.get("bench-ten").context("the throughput flow")?;
    let enqueue = Instant::now();
    for _ in 0..runs {
        rt.start(&flow, manual()).await?;
    }
    let enqueued = enqueue.elapsed();
    let started = Instant::now();
    let mut taken = 0;
    while taken < runs {
        let n = rt.run_available(concurrency).await?;
        anyhow::ensure!(n > 0, "no run was due; {taken} of {runs} taken up");
        taken += n;
    }
    let elapsed = started.elapsed();
    let open = rt.store.open_flow_runs().await?;
    anyhow::ensure!(open == 0, "{open} runs did not end");
    Ok((
        (runs * flow.steps.len()) as f64 / elapsed.as_secs_f64(),
        enqueued,
    ))
}

/// What one store measured.
pub struct StoreFigures {
    pub label: &'static str,
    pub set: Percentiles,
    pub set_wall: Duration,
    pub http: Percentiles,
    pub http_wall: Duration,
    pub echo: Percentiles,
    pub steps_per_second: f64,
    pub runs: usize,
}

pub struct Size {
    pub steps: usize,
    pub runs: usize,
    pub concurrency: usize,
}

impl Size {
    pub fn full() -> Self {
        Size {
            steps: 1_000,
            runs: 2_000,
            concurrency: 64,
        }
    }

    pub fn quick() -> Self {
        Size {
            steps: 200,
            runs: 100,
            concurrency: 32,
        }
    }
}

async fn measure(
    database: &BenchDatabase,
    size: &Size,
    recorder: &Recorder,
) -> anyhow::Result<StoreFigures> {
    let store = Store::open(database.url(), Arc::new(SystemClock)).await?;
    let base = echo_server().await?;
    let http = http_cards(&base)?;
    let sources = vec![
        (
            PathBuf::from("bench-set.yaml"),
            flow_source("bench-set", size.steps, set_step),
        ),
        (
            PathBuf::from("bench-http.yaml"),
            flow_source("bench-http", size.steps, http_step(&base)),
        ),
        (
            PathBuf::from("bench-ten.yaml"),
            flow_source("bench-ten", 10, set_step),
        ),
    ];
    let flows = Arc::new(FlowSet::from_sources(sources).map_err(|d| anyhow::anyhow!("{d}"))?);
    let host = NoHost;
    let rt = runtime(&store, &host, &http, flows);
    // Warm up (connections, the page cache), then measure.
    one_run(&rt, recorder, "bench-ten").await?;
    let (set, set_wall) = one_run(&rt, recorder, "bench-set").await?;
    let echo = echo_round_trips(&http, &base, size.steps).await?;
    let (http_steps, http_wall) = one_run(&rt, recorder, "bench-http").await?;
    let (steps_per_second, _) = throughput(&rt, size.runs, size.concurrency).await?;
    recorder.take();
    Ok(StoreFigures {
        label: database.label(),
        set: percentiles(set),
        set_wall,
        http: percentiles(http_steps),
        http_wall,
        echo,
        steps_per_second,
        runs: size.runs,
    })
}

/// A plain SQLite insert and commit, one row a transaction, on a store opened as grantflow opens it (WAL,
/// SQLite's default `synchronous` = FULL): the guard's yardstick (microseconds, p50).
async fn plain_insert_p50(n: usize) -> anyhow::Result<f64> {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("plain.db").display()
    );
    let mut connection = sqlx::SqliteConnection::connect(&url).await?;
    sqlx::raw_sql("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        .execute(&mut connection)
        .await?;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let mut tx = connection.begin().await?;
        sqlx::query("INSERT INTO t (id, body) VALUES ($1, $2)")
            .bind(i as i64)
            .bind(r#"{"n": 1, "note": "no-op"}"#)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(percentiles(times).p50_us)
}

fn print(figures: &StoreFigures, size: &Size) {
    let ms = |us: f64| us / 1e3;
    println!(
        "{:<10} {} set cards:  overhead per step p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms (run {:.2} s; p50 of the first tenth {:.3} ms, of the last {:.3} ms)",
        figures.label,
        size.steps,
        ms(figures.set.p50_us),
        ms(figures.set.p99_us),
        ms(figures.set.mean_us),
        figures.set_wall.as_secs_f64(),
        ms(figures.set.first_tenth_p50_us),
        ms(figures.set.last_tenth_p50_us),
    );
    println!(
        "{:<10} {} http cards: overhead per step p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms (run {:.2} s; echo round trip alone p50 {:.3} ms, p99 {:.3} ms)",
        figures.label,
        size.steps,
        ms(figures.http.p50_us),
        ms(figures.http.p99_us),
        ms(figures.http.mean_us),
        figures.http_wall.as_secs_f64(),
        ms(figures.echo.p50_us),
        ms(figures.echo.p99_us),
    );
    println!(
        "{:<10} {} runs x 10 set cards, {} at once: {:.0} durable steps/s",
        figures.label, figures.runs, size.concurrency, figures.steps_per_second
    );
}

/// `grantflow-bench flow-steps`: SQLite, and PostgreSQL when `postgres` is given.
pub async fn run(size: Size, postgres: Option<&str>) -> anyhow::Result<()> {
    let recorder = Recorder::global()?;
    let plain = plain_insert_p50(size.steps).await?;
    println!(
        "plain SQLite insert+commit (WAL, synchronous FULL): p50 {:.3} ms",
        plain / 1e3
    );
    let mut databases = vec![BenchDatabase::fresh(None).await?];
    if let Some(url) = postgres {
        databases.push(BenchDatabase::fresh(Some(url)).await?);
    }
    for database in databases {
        let figures = measure(&database, &size, &recorder).await;
        database.drop_schema().await?;
        print(&figures?, &size);
    }
    Ok(())
}

/// The guard's measure: the engine's p50 overhead per `set` step on SQLite over a plain SQLite
/// insert+commit's p50, both measured now in this process (so the ratio holds on a slow or busy machine).
/// The plain inserts are timed before and after the engine's run and averaged, as the disk's speed drifts
/// while other work shares it. Returns the ratio, the step's p50 and the insert's (microseconds).
pub async fn guard_ratio() -> anyhow::Result<(f64, f64, f64)> {
    let recorder = Recorder::global()?;
    let size = Size {
        steps: 300,
        runs: 20,
        concurrency: 8,
    };
    let before = plain_insert_p50(size.steps).await?;
    let database = BenchDatabase::fresh(None).await?;
    let figures = measure(&database, &size, &recorder).await?;
    let after = plain_insert_p50(size.steps).await?;
    let plain = (before + after) / 2.0;
    Ok((
        figures.set.p50_us / plain.max(1.0),
        figures.set.p50_us,
        plain,
    ))
}
