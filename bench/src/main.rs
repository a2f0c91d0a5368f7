//! `bench`: the benchmark harness of the three BFFs. It builds the servers in release mode,
//! starts the demo services and each BFF as its own process (pinned with `taskset` when possible:
//! BFFs on core 1, demo services and this load generator on core 0), drives every query of
//! `bench/queries/` with closed-loop (saturation) and open-loop (fixed rate, coordinated-omission
//! corrected) load at 0 ms and 5 ms injected downstream latency, and writes a markdown report, a
//! JSON report and an SVG chart under `bench/results/`.
//!
//! Usage: `cargo run --release -p bench -- [--quick] [--skip-build] [--only NAME,..]
//! [--bff-env KEY=VALUE].. [--soak SECS] [--label TEXT] [--out DIR]`. Full mode soaks 60 s;
//! `--soak 300` gives the 5-minute soak (also with `--quick`, which otherwise has none).

mod hist;
mod load;
mod procs;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use load::{Outcome, Target};
use procs::Proc;

/// Which BFF serves a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Server {
    Mobile,
    Web,
    Admin,
}

impl Server {
    const ALL: [Server; 3] = [Server::Mobile, Server::Web, Server::Admin];

    fn binary(self) -> &'static str {
        match self {
            Server::Mobile => "bff-mobile",
            Server::Web => "bff-web",
            Server::Admin => "bff-admin",
        }
    }
}

/// Which token a query is sent with.
#[derive(Debug, Clone, Copy)]
enum Token {
    None,
    Customer,
    Admin,
}

/// One query of the workload: its file under `bench/queries/` (`NAME.graphql` plus optional
/// `NAME.variables.json`), its server, its token, and how many downstream calls sit one after
/// the other on its critical path.
struct QuerySpec {
    name: &'static str,
    server: Server,
    token: Token,
    levels: u32,
}

const QUERIES: &[QuerySpec] = &[
    QuerySpec {
        name: "typename",
        server: Server::Mobile,
        token: Token::None,
        levels: 0,
    },
    QuerySpec {
        name: "mobile_home",
        server: Server::Mobile,
        token: Token::Customer,
        levels: 1,
    },
    QuerySpec {
        name: "mobile_product",
        server: Server::Mobile,
        token: Token::None,
        levels: 1,
    },
    QuerySpec {
        name: "web_product_page",
        server: Server::Web,
        token: Token::None,
        levels: 2,
    },
    QuerySpec {
        name: "web_products_page",
        server: Server::Web,
        token: Token::None,
        levels: 2,
    },
    QuerySpec {
        name: "admin_users_page",
        server: Server::Admin,
        token: Token::Admin,
        levels: 2,
    },
    QuerySpec {
        name: "admin_dashboard",
        server: Server::Admin,
        token: Token::Admin,
        levels: 1,
    },
];

/// Durations, rates and sizes of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub mode: &'static str,
    pub latencies_ms: Vec<u64>,
    pub warmup_requests: u64,
    pub saturation_concurrency: usize,
    pub saturation_secs: f64,
    /// Open-loop rates per injected latency.
    pub rates: BTreeMap<u64, Vec<u64>>,
    pub rate_secs: f64,
    pub soak_secs: f64,
    pub soak_rate_per_bff: u64,
}

impl Plan {
    fn quick() -> Self {
        Self {
            mode: "quick",
            latencies_ms: vec![0, 5],
            warmup_requests: 300,
            saturation_concurrency: 32,
            saturation_secs: 2.0,
            rates: BTreeMap::from([(0, vec![1000]), (5, vec![250, 500, 1000])]),
            rate_secs: 2.0,
            soak_secs: 0.0,
            soak_rate_per_bff: 0,
        }
    }

    fn full() -> Self {
        Self {
            mode: "full",
            latencies_ms: vec![0, 5],
            warmup_requests: 500,
            saturation_concurrency: 32,
            saturation_secs: 3.0,
            rates: BTreeMap::from([(0, vec![1000]), (5, vec![250, 500, 1000, 2000])]),
            rate_secs: 3.0,
            // Sized so that build + run stay under 10 minutes on a fresh 2-core clone; the
            // 5-minute soak is `--soak 300`.
            soak_secs: 60.0,
            soak_rate_per_bff: 100,
        }
    }
}

struct Options {
    plan: Plan,
    skip_build: bool,
    only: Option<Vec<String>>,
    bff_env: Vec<(String, String)>,
    label: String,
    out: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut opts = Options {
        plan: Plan::full(),
        skip_build: false,
        only: None,
        bff_env: Vec::new(),
        label: String::new(),
        out: None,
    };
    let mut soak_secs = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => opts.plan = Plan::quick(),
            "--skip-build" => opts.skip_build = true,
            "--only" => opts.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--bff-env" => {
                let kv = value()?;
                let (k, v) = kv.split_once('=').context("--bff-env wants KEY=VALUE")?;
                opts.bff_env.push((k.to_owned(), v.to_owned()));
            }
            "--soak" => {
                soak_secs = Some(
                    value()?
                        .parse::<f64>()
                        .context("--soak wants seconds")?
                        .max(0.0),
                )
            }
            "--label" => opts.label = value()?,
            "--out" => opts.out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!(
                    "usage: bench [--quick] [--skip-build] [--only NAME,..] [--bff-env KEY=VALUE].. \
                     [--soak SECS] [--label TEXT] [--out DIR]\nqueries: {}",
                    QUERIES
                        .iter()
                        .map(|q| q.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if let Some(secs) = soak_secs {
        opts.plan.soak_secs = secs;
        if opts.plan.soak_rate_per_bff == 0 {
            opts.plan.soak_rate_per_bff = 100;
        }
    }
    Ok(opts)
}

/// One measured phase of one query.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// "saturation" (closed loop) or "open" (fixed rate).
    pub kind: &'static str,
    pub offered_rps: Option<u64>,
    pub concurrency: Option<usize>,
    pub requests: u64,
    /// Requests shed with 503 OVERLOADED (offered load beyond capacity).
    pub shed: u64,
    pub achieved_rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// Latency minus levels × injected latency.
    pub overhead_p50_us: i64,
    pub overhead_p99_us: i64,
    pub overhead_p999_us: i64,
    pub cpu_us_per_query: f64,
    pub calls_per_query: f64,
    pub bytes_per_response: f64,
    /// p99 of how late the generator sent (open loop only).
    pub send_lag_p99_us: Option<u64>,
}

/// Everything measured for one query at one injected latency.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    pub query: String,
    pub server: Server,
    pub levels: u32,
    pub latency_ms: u64,
    /// Downstream calls of one request alone, by route.
    pub single_calls: BTreeMap<String, u64>,
    pub single_total_calls: u64,
    pub response_bytes: usize,
    pub phases: Vec<Phase>,
    /// Rates not run because they exceed 90 % of the measured saturation throughput.
    pub skipped_rates: Vec<u64>,
}

/// Memory of one BFF.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    pub server: Server,
    pub peak_rss_kb: u64,
    pub rss_before_soak_kb: Option<u64>,
    pub rss_after_soak_kb: Option<u64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub label: String,
    pub started_unix: u64,
    pub cpu_model: String,
    pub cores: usize,
    pub pinned: bool,
    pub clock_ticks: u64,
    pub bff_env: Vec<(String, String)>,
    pub plan: Plan,
    pub results: Vec<QueryResult>,
    pub memory: Vec<Memory>,
    pub soak: Option<SoakResult>,
    pub wall_secs: f64,
}

/// The soak: all three BFFs under steady load at once.
#[derive(Debug, Clone, Serialize)]
pub struct SoakResult {
    pub secs: f64,
    pub rate_per_bff: u64,
    pub requests: u64,
    pub p99_us: u64,
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(opts) => opts,
        Err(err) => {
            eprintln!("bench: {err}");
            return ExitCode::from(2);
        }
    };
    let root = procs::workspace_root();
    if !opts.skip_build
        && let Err(err) = procs::build(&root)
    {
        eprintln!("bench: {err:#}");
        return ExitCode::FAILURE;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = procs::can_pin();
    if pinned && let Err(err) = procs::pin_self(0) {
        eprintln!("bench: could not pin the load generator: {err:#}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("bench: runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&root, &opts, pinned, cores)) {
        Ok(paths) => {
            for path in paths {
                println!("bench: wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("\nbench: RUN FAILED: {err:#}");
            ExitCode::FAILURE
        }
    }
}

struct Running {
    demo: Proc,
    demo_urls: [String; 3],
    bffs: Vec<(Server, Proc, String)>,
}

impl Running {
    fn bff(&mut self, server: Server) -> anyhow::Result<(&mut Proc, &str)> {
        self.bffs
            .iter_mut()
            .find(|(s, _, _)| *s == server)
            .map(|(_, p, url)| (p, url.as_str()))
            .context("BFF not started")
    }
}

async fn start_all(
    root: &Path,
    client: &reqwest::Client,
    opts: &Options,
    pinned: bool,
    logs: &Path,
) -> anyhow::Result<Running> {
    let release = root.join("target/release");
    let ports = [
        procs::free_port()?,
        procs::free_port()?,
        procs::free_port()?,
    ];
    let args: Vec<String> = [
        "--users-port",
        &ports[0].to_string(),
        "--orders-port",
        &ports[1].to_string(),
        "--products-port",
        &ports[2].to_string(),
        "--latency-ms",
        "0",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut demo = Proc::start(
        "demo-services",
        &release.join("demo-services"),
        &args,
        &[],
        pinned.then_some(0),
        &logs.join("demo-services.log"),
    )?;
    let demo_urls = ports.map(|p| format!("http://127.0.0.1:{p}"));
    for url in &demo_urls {
        procs::wait_http(client, &format!("{url}/__stats"), &mut demo).await?;
    }
    let mut bffs = Vec::new();
    for server in Server::ALL {
        let port = procs::free_port()?;
        let mut env: Vec<(String, String)> = vec![
            ("BFF_DEV_MODE".into(), "true".into()),
            ("BFF_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("BFF_LOG".into(), "warn".into()),
            ("USERS_SERVICE_URL".into(), demo_urls[0].clone()),
            ("ORDERS_SERVICE_URL".into(), demo_urls[1].clone()),
            ("PRODUCTS_SERVICE_URL".into(), demo_urls[2].clone()),
        ];
        env.extend(opts.bff_env.iter().cloned());
        let mut proc = Proc::start(
            server.binary(),
            &release.join(server.binary()),
            &[],
            &env,
            pinned.then_some(1),
            &logs.join(format!("{}.log", server.binary())),
        )?;
        let url = format!("http://127.0.0.1:{port}");
        procs::wait_http(client, &format!("{url}/health"), &mut proc).await?;
        bffs.push((server, proc, url));
    }
    Ok(Running {
        demo,
        demo_urls,
        bffs,
    })
}

async fn set_latency(client: &reqwest::Client, run: &Running, ms: u64) -> anyhow::Result<()> {
    for url in &run.demo_urls {
        let r = client
            .post(format!("{url}/__control"))
            .json(&json!({ "latency_ms": ms, "jitter_ms": 0, "error_rate": 0.0, "down": false }))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("{url}/__control refused: {}", r.status());
        }
    }
    Ok(())
}

async fn reset_stats(client: &reqwest::Client, run: &Running) -> anyhow::Result<()> {
    for url in &run.demo_urls {
        let r = client.post(format!("{url}/__stats/reset")).send().await?;
        if !r.status().is_success() {
            bail!("{url}/__stats/reset refused: {}", r.status());
        }
    }
    Ok(())
}

/// Downstream calls by route since the last reset, over the three services.
async fn read_stats(
    client: &reqwest::Client,
    run: &Running,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for url in &run.demo_urls {
        let stats: serde_json::Value = client
            .get(format!("{url}/__stats"))
            .send()
            .await?
            .json()
            .await?;
        for route in stats["routes"].as_array().into_iter().flatten() {
            let n = route["requests"].as_u64().unwrap_or(0);
            if n > 0 {
                let name = route["route"].as_str().unwrap_or("?").to_owned();
                *out.entry(name).or_insert(0) += n;
            }
        }
    }
    Ok(out)
}

fn load_target(root: &Path, spec: &QuerySpec, url: &str) -> anyhow::Result<Target> {
    let dir = root.join("bench/queries");
    let query = std::fs::read_to_string(dir.join(format!("{}.graphql", spec.name)))
        .with_context(|| format!("reading the query {}", spec.name))?;
    let vars_path = dir.join(format!("{}.variables.json", spec.name));
    let variables: serde_json::Value = if vars_path.exists() {
        serde_json::from_str(&std::fs::read_to_string(&vars_path)?)
            .with_context(|| format!("parsing {}", vars_path.display()))?
    } else {
        json!({})
    };
    let body = json!({ "query": query, "variables": variables }).to_string();
    let token = match spec.token {
        Token::None => None,
        Token::Customer => Some(shared::auth::dev_customer_token()),
        Token::Admin => Some(shared::auth::dev_admin_token()),
    };
    Ok(Target {
        url: format!("{url}/graphql"),
        body: Box::leak(body.into_boxed_str()),
        token,
    })
}

struct Measure<'a> {
    client: &'a reqwest::Client,
    ticks: u64,
    spec: &'a QuerySpec,
    latency_ms: u64,
}

impl Measure<'_> {
    /// Runs `phase` with CPU and downstream counters around it.
    async fn phase<F: Future<Output = Outcome>>(
        &self,
        run: &mut Running,
        kind: &'static str,
        offered: Option<u64>,
        concurrency: Option<usize>,
        nominal_secs: f64,
        phase: F,
    ) -> anyhow::Result<Phase> {
        reset_stats(self.client, run).await?;
        let pid = run.bff(self.spec.server)?.0.pid();
        let cpu0 = procs::cpu_ticks(pid)?;
        let out = phase.await;
        let cpu1 = procs::cpu_ticks(pid)?;
        let calls: u64 = read_stats(self.client, run).await?.values().sum();
        run.bff(self.spec.server)?.0.check_alive()?;
        if out.failures > 0 {
            bail!(
                "{} at {} ms, {kind} {}: {} of {} responses failed; first: {}",
                self.spec.name,
                self.latency_ms,
                offered.map_or_else(String::new, |r| format!("{r} rps")),
                out.failures,
                out.failures + out.ok,
                out.first_failure.unwrap_or_default()
            );
        }
        let n = out.ok.max(1);
        let h = &out.latency;
        let critical = i64::from(self.spec.levels) * self.latency_ms as i64 * 1000;
        let secs = if kind == "open" {
            nominal_secs
        } else {
            out.elapsed.as_secs_f64()
        };
        Ok(Phase {
            kind,
            offered_rps: offered,
            concurrency,
            requests: out.ok,
            shed: out.shed,
            achieved_rps: out.ok as f64 / secs.max(1e-9),
            p50_us: h.quantile(0.5),
            p99_us: h.quantile(0.99),
            p999_us: h.quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
            overhead_p50_us: h.quantile(0.5) as i64 - critical,
            overhead_p99_us: h.quantile(0.99) as i64 - critical,
            overhead_p999_us: h.quantile(0.999) as i64 - critical,
            cpu_us_per_query: (cpu1.saturating_sub(cpu0)) as f64 * 1e6
                / self.ticks as f64
                / n as f64,
            calls_per_query: calls as f64 / n as f64,
            bytes_per_response: out.bytes as f64 / n as f64,
            send_lag_p99_us: (kind == "open").then(|| out.send_lag.quantile(0.99)),
        })
    }
}

async fn run(
    root: &Path,
    opts: &Options,
    pinned: bool,
    cores: usize,
) -> anyhow::Result<Vec<PathBuf>> {
    let wall = std::time::Instant::now();
    let out_dir = opts
        .out
        .clone()
        .unwrap_or_else(|| root.join("bench/results"));
    let logs = out_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let client = load::client()?;
    let mut running = start_all(root, &client, opts, pinned, &logs).await?;
    let plan = &opts.plan;
    let ticks = procs::clock_ticks();
    let specs: Vec<&QuerySpec> = QUERIES
        .iter()
        .filter(|q| {
            opts.only
                .as_ref()
                .is_none_or(|only| only.iter().any(|n| n == q.name))
        })
        .collect();
    if specs.is_empty() {
        bail!("--only matched no query");
    }
    let mut results = Vec::new();
    for &latency_ms in &plan.latencies_ms {
        set_latency(&client, &running, latency_ms).await?;
        for spec in &specs {
            let url = running.bff(spec.server)?.1.to_owned();
            let target = load_target(root, spec, &url)?;
            eprintln!("bench: {} at {latency_ms} ms downstream latency", spec.name);
            // Warm-up, checked like every phase.
            let warm = load::closed_loop(
                &client,
                &target,
                4,
                Duration::from_secs(30),
                Some(plan.warmup_requests),
            )
            .await;
            if warm.failures > 0 {
                bail!(
                    "{} warm-up failed: {}",
                    spec.name,
                    warm.first_failure.unwrap_or_default()
                );
            }
            // One request alone: the minimum downstream calls.
            reset_stats(&client, &running).await?;
            let bytes = load::send(&client, &target, true)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", spec.name))?;
            let single_calls = read_stats(&client, &running).await?;
            let single_total_calls = single_calls.values().sum();
            let m = Measure {
                client: &client,
                ticks,
                spec,
                latency_ms,
            };
            let conc = plan.saturation_concurrency;
            let dur = Duration::from_secs_f64(plan.saturation_secs);
            let sat = m
                .phase(
                    &mut running,
                    "saturation",
                    None,
                    Some(conc),
                    plan.saturation_secs,
                    load::closed_loop(&client, &target, conc, dur, None),
                )
                .await?;
            let mut phases = vec![sat.clone()];
            let mut skipped = Vec::new();
            for &rate in plan.rates.get(&latency_ms).into_iter().flatten() {
                if rate as f64 > 0.9 * sat.achieved_rps {
                    skipped.push(rate);
                    continue;
                }
                let dur = Duration::from_secs_f64(plan.rate_secs);
                let phase = m
                    .phase(
                        &mut running,
                        "open",
                        Some(rate),
                        None,
                        plan.rate_secs,
                        load::open_loop(&client, &target, rate, dur),
                    )
                    .await?;
                phases.push(phase);
            }
            results.push(QueryResult {
                query: spec.name.to_owned(),
                server: spec.server,
                levels: spec.levels,
                latency_ms,
                single_calls,
                single_total_calls,
                response_bytes: bytes,
                phases,
                skipped_rates: skipped,
            });
        }
    }
    let mut memory: Vec<Memory> = Vec::new();
    for server in Server::ALL {
        let pid = running.bff(server)?.0.pid();
        memory.push(Memory {
            server,
            peak_rss_kb: 0,
            rss_before_soak_kb: (plan.soak_secs > 0.0)
                .then(|| procs::status_kb(pid, "VmRSS"))
                .transpose()?,
            rss_after_soak_kb: None,
        });
    }
    let soak = if plan.soak_secs > 0.0 {
        Some(soak(root, &client, &mut running, plan, &mut memory).await?)
    } else {
        None
    };
    for mem in &mut memory {
        let pid = running.bff(mem.server)?.0.pid();
        mem.peak_rss_kb = procs::status_kb(pid, "VmHWM")?;
    }
    running.demo.check_alive()?;
    let report = Report {
        label: opts.label.clone(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        cpu_model: procs::cpu_model(),
        cores,
        pinned,
        clock_ticks: ticks,
        bff_env: opts.bff_env.clone(),
        plan: plan.clone(),
        results,
        memory,
        soak,
        wall_secs: wall.elapsed().as_secs_f64(),
    };
    report::write(&out_dir, &report)
}

/// All three BFFs under steady open-loop load at once (home, web product page, dashboard) at
/// 5 ms latency; memory before and after.
async fn soak(
    root: &Path,
    client: &reqwest::Client,
    running: &mut Running,
    plan: &Plan,
    memory: &mut [Memory],
) -> anyhow::Result<SoakResult> {
    set_latency(client, running, 5).await?;
    eprintln!("bench: soak, {} s", plan.soak_secs);
    let mut targets = Vec::new();
    for name in ["mobile_home", "web_product_page", "admin_dashboard"] {
        let spec = QUERIES
            .iter()
            .find(|q| q.name == name)
            .context("query table")?;
        let url = running.bff(spec.server)?.1.to_owned();
        targets.push(load_target(root, spec, &url)?);
    }
    let dur = Duration::from_secs_f64(plan.soak_secs);
    let rate = plan.soak_rate_per_bff;
    let (a, b, c) = tokio::join!(
        load::open_loop(client, &targets[0], rate, dur),
        load::open_loop(client, &targets[1], rate, dur),
        load::open_loop(client, &targets[2], rate, dur),
    );
    let mut all = Outcome::default();
    for out in [a, b, c] {
        if out.failures > 0 {
            bail!(
                "soak: {} failures; first: {}",
                out.failures,
                out.first_failure.unwrap_or_default()
            );
        }
        all.latency.merge(&out.latency);
        all.ok += out.ok;
    }
    for mem in memory.iter_mut() {
        let pid = running.bff(mem.server)?.0.pid();
        mem.rss_after_soak_kb = Some(procs::status_kb(pid, "VmRSS")?);
    }
    Ok(SoakResult {
        secs: plan.soak_secs,
        rate_per_bff: rate,
        requests: all.ok,
        p99_us: all.latency.quantile(0.99),
    })
}
