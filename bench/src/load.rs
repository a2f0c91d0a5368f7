//! The load generator: real HTTP/1.1 POSTs of a GraphQL body to a BFF, in two shapes.
//!
//! - Closed loop ([`closed_loop`]): `concurrency` workers send back to back; gives the
//!   throughput at saturation. Its latencies are *not* corrected for coordinated omission.
//! - Open loop ([`open_loop`]): a dedicated thread schedules one request every `1/rate` seconds
//!   whatever the answers do, and latency is measured from the request's *intended* send time,
//!   so a stalled server is charged for every request that should have been sent meanwhile
//!   (the coordinated-omission correction). How late the generator itself was is reported too.
//!
//! Every response is checked: a non-200 status or a body mentioning `"errors"` is a failure, except a
//! 503 OVERLOADED, counted as shed (load beyond capacity, reported per phase); the
//! first 20 and every 50th are also parsed as JSON and must carry an object `data`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::hist::Histogram;

/// One workload: where to send which body with which token.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub body: &'static str,
    pub token: Option<String>,
}

/// What one phase measured.
#[derive(Default)]
pub struct Outcome {
    pub latency: Histogram,
    /// How late the generator sent requests (open loop only).
    pub send_lag: Histogram,
    pub ok: u64,
    /// Requests the BFF refused with 503 OVERLOADED: load shedding beyond capacity, reported
    /// rather than treated as a broken run (open loop only offers more than the BFF can take).
    pub shed: u64,
    pub failures: u64,
    pub first_failure: Option<String>,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl Outcome {
    fn add(&mut self, result: Result<usize, String>, micros: u64) {
        match result {
            Ok(bytes) => {
                self.ok += 1;
                self.bytes += bytes as u64;
                self.latency.record(micros);
            }
            Err(why) if why.starts_with("HTTP 503") && why.contains("OVERLOADED") => {
                self.shed += 1;
            }
            Err(why) => {
                self.failures += 1;
                self.first_failure.get_or_insert(why);
            }
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.latency.merge(&other.latency);
        self.ok += other.ok;
        self.shed += other.shed;
        self.failures += other.failures;
        self.bytes += other.bytes;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
    }
}

/// The HTTP client of the generator: keep-alive, enough idle connections for every worker.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()?)
}

/// Sends one request and checks the answer; `deep` also parses the JSON. Ok is the body size.
pub async fn send(client: &reqwest::Client, target: &Target, deep: bool) -> Result<usize, String> {
    let mut request = client
        .post(&target.url)
        .header("content-type", "application/json")
        .body(target.body);
    if let Some(token) = &target.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("reading body: {e}"))?;
    let snippet = || String::from_utf8_lossy(&body[..body.len().min(600)]).into_owned();
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP {status}: {}", snippet()));
    }
    if contains(&body, b"\"errors\"") {
        return Err(format!("GraphQL errors: {}", snippet()));
    }
    if deep {
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("not JSON ({e}): {}", snippet()))?;
        if !value["data"].is_object() || value.get("errors").is_some() {
            return Err(format!("no data or errors: {}", snippet()));
        }
    }
    Ok(body.len())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn deep_check(seq: &AtomicU64) -> bool {
    let n = seq.fetch_add(1, Ordering::Relaxed);
    n < 20 || n.is_multiple_of(50)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// `concurrency` workers send back to back for `duration` (or until `max_requests` in all).
pub async fn closed_loop(
    client: &reqwest::Client,
    target: &Target,
    concurrency: usize,
    duration: Duration,
    max_requests: Option<u64>,
) -> Outcome {
    let seq = Arc::new(AtomicU64::new(0));
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, target, seq, issued) =
                (client.clone(), target.clone(), seq.clone(), issued.clone());
            tokio::spawn(async move {
                let mut out = Outcome::default();
                loop {
                    if Instant::now() >= deadline {
                        break;
                    }
                    if let Some(max) = max_requests
                        && issued.fetch_add(1, Ordering::Relaxed) >= max
                    {
                        break;
                    }
                    let sent = Instant::now();
                    let result = send(&client, &target, deep_check(&seq)).await;
                    out.add(result, micros(sent.elapsed()));
                }
                out
            })
        })
        .collect();
    let mut total = Outcome::default();
    for worker in workers {
        match worker.await {
            Ok(out) => total.merge(out),
            Err(e) => total.add(Err(format!("worker panicked: {e}")), 0),
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// Sends `rate` requests per second for `duration`, each at its scheduled time, latency from
/// the scheduled time.
pub async fn open_loop(
    client: &reqwest::Client,
    target: &Target,
    rate: u64,
    duration: Duration,
) -> Outcome {
    let acc = Arc::new(Mutex::new(Outcome::default()));
    let seq = Arc::new(AtomicU64::new(0));
    let handle = tokio::runtime::Handle::current();
    let total = (rate as f64 * duration.as_secs_f64()).round() as u64;
    let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let (client2, target2, acc2) = (client.clone(), target.clone(), acc.clone());
    let scheduler = tokio::task::spawn_blocking(move || {
        let start = Instant::now() + Duration::from_millis(5);
        let mut lag = Histogram::default();
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let intended = start + period.mul_f64(i as f64);
            let now = Instant::now();
            if intended > now {
                std::thread::sleep(intended - now);
            }
            lag.record(micros(Instant::now().saturating_duration_since(intended)));
            let (client, target, acc, seq) =
                (client2.clone(), target2.clone(), acc2.clone(), seq.clone());
            tasks.push(handle.spawn(async move {
                let result = send(&client, &target, deep_check(&seq)).await;
                let latency = micros(intended.elapsed());
                acc.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .add(result, latency);
            }));
        }
        (start, lag, tasks)
    });
    let mut out = Outcome::default();
    match scheduler.await {
        Ok((start, lag, tasks)) => {
            for task in tasks {
                let _ = task.await;
            }
            out.elapsed = start.elapsed();
            out.send_lag = lag;
        }
        Err(e) => out.add(Err(format!("scheduler panicked: {e}")), 0),
    }
    let mut acc = acc.lock().unwrap_or_else(PoisonError::into_inner);
    let taken = std::mem::take(&mut *acc);
    out.merge(taken);
    out
}
