//! The report: markdown (tables and a summary against the targets), JSON (everything, for
//! comparing runs) and a hand-written SVG chart of latency against offered load.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::{Phase, QueryResult, Report};

/// Writes `<mode>[-label].{md,json,svg}` into `dir`; returns the paths.
pub fn write(dir: &Path, report: &Report) -> anyhow::Result<Vec<PathBuf>> {
    let stem = if report.label.is_empty() {
        report.plan.mode.to_owned()
    } else {
        format!("{}-{}", report.plan.mode, report.label)
    };
    let md = dir.join(format!("{stem}.md"));
    let json = dir.join(format!("{stem}.json"));
    let svg = dir.join(format!("{stem}.svg"));
    std::fs::write(&json, serde_json::to_string_pretty(report)?)?;
    std::fs::write(&svg, chart(report))?;
    let svg_name = svg
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::write(&md, markdown(report, &svg_name))?;
    Ok(vec![md, json, svg])
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn signed_ms(us: i64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn open_at(result: &QueryResult, rate: u64) -> Option<&Phase> {
    result
        .phases
        .iter()
        .find(|p| p.kind == "open" && p.offered_rps == Some(rate))
}

fn saturation(result: &QueryResult) -> Option<&Phase> {
    result.phases.iter().find(|p| p.kind == "saturation")
}

fn find<'a>(report: &'a Report, query: &str, latency: u64) -> Option<&'a QueryResult> {
    report
        .results
        .iter()
        .find(|r| r.query == query && r.latency_ms == latency)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

fn markdown(report: &Report, svg: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# BFF benchmark ({} mode{})\n",
        report.plan.mode,
        if report.label.is_empty() {
            String::new()
        } else {
            format!(", {}", report.label)
        }
    );
    let _ = writeln!(s, "- Machine: {} vCPU, {}", report.cores, report.cpu_model);
    let _ = writeln!(
        s,
        "- Pinning: {}",
        if report.pinned {
            "BFFs on core 1; demo services and the load generator on core 0 (`taskset`)"
        } else {
            "none (taskset missing or a single core)"
        }
    );
    let _ = writeln!(
        s,
        "- Load generator: in-crate (tokio + reqwest, HTTP/1.1 keep-alive). Saturation: closed loop, {} connections, {} s. Fixed rates: open loop, {} s each, latency measured from each request's intended send time (coordinated-omission corrected).",
        report.plan.saturation_concurrency, report.plan.saturation_secs, report.plan.rate_secs
    );
    let _ = writeln!(
        s,
        "- Every response checked (status 200, no `errors`); the first 20 and every 50th parsed in full. A single failure fails the run."
    );
    let _ = writeln!(
        s,
        "- BFF CPU per query: utime+stime of the BFF process (`/proc/<pid>/stat`, {} ticks/s) over the phase, divided by its requests.",
        report.clock_ticks
    );
    let _ = writeln!(
        s,
        "- Overhead = latency − levels × injected latency (levels: sequential downstream calls on the critical path)."
    );
    if !report.bff_env.is_empty() {
        let env: Vec<String> = report
            .bff_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(s, "- Extra BFF environment: `{}`", env.join(" "));
    }
    let _ = writeln!(s, "- Wall time: {:.0} s\n", report.wall_secs);

    // Targets.
    let _ = writeln!(s, "## Targets\n");
    let _ = writeln!(s, "| target | measured | verdict |\n|---|---|---|");
    for (query, limit) in [("mobile_home", 40.0), ("web_product_page", 80.0)] {
        for latency in [0, 5] {
            if let Some(r) = find(report, query, latency) {
                let cpu_sat = saturation(r).map_or(f64::NAN, |p| p.cpu_us_per_query);
                let _ = writeln!(
                    s,
                    "| BFF CPU per `{query}` < {limit} µs ({latency} ms, saturation) | {cpu_sat:.1} µs | {} |",
                    verdict(cpu_sat < limit)
                );
                if let Some(p) = open_at(r, 1000) {
                    let _ = writeln!(
                        s,
                        "| BFF CPU per `{query}` < {limit} µs ({latency} ms, 1000 rps) | {:.1} µs | {} |",
                        p.cpu_us_per_query,
                        verdict(p.cpu_us_per_query < limit)
                    );
                }
            }
        }
    }
    for r in report.results.iter().filter(|r| r.latency_ms == 5) {
        match open_at(r, 1000) {
            Some(p) => {
                let _ = writeln!(
                    s,
                    "| p99 overhead < 1 ms, `{}` at 1000 rps, 5 ms | {} ms | {} |",
                    r.query,
                    signed_ms(p.overhead_p99_us),
                    verdict(p.overhead_p99_us < 1000)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "| p99 overhead < 1 ms, `{}` at 1000 rps, 5 ms | not run (above 90 % of saturation) | **missed** |",
                    r.query
                );
            }
        }
    }
    for r in &report.results {
        let worst = r
            .phases
            .iter()
            .map(|p| p.calls_per_query)
            .fold(0.0, f64::max);
        let ok = (worst - r.single_total_calls as f64).abs() < 0.005;
        let _ = writeln!(
            s,
            "| calls/query under load = alone, `{}` ({} ms) | alone {}, under load max {:.3} | {} |",
            r.query,
            r.latency_ms,
            r.single_total_calls,
            worst,
            verdict(ok)
        );
    }
    for m in &report.memory {
        let _ = writeln!(
            s,
            "| peak RSS < 50 MB, {:?} | {:.1} MB | {} |",
            m.server,
            m.peak_rss_kb as f64 / 1024.0,
            verdict(m.peak_rss_kb < 50 * 1024)
        );
        if let (Some(a), Some(b)) = (m.rss_before_soak_kb, m.rss_after_soak_kb) {
            let growth = b as f64 / 1024.0 - a as f64 / 1024.0;
            let _ = writeln!(
                s,
                "| no RSS growth over the soak, {:?} | {:.1} → {:.1} MB ({growth:+.1} MB) | {} |",
                m.server,
                a as f64 / 1024.0,
                b as f64 / 1024.0,
                verdict(growth < 2.0)
            );
        }
    }
    if let Some(soak) = &report.soak {
        let _ = writeln!(
            s,
            "\nSoak: {} s, {} rps on each BFF at once (home, web product page, dashboard; 5 ms), {} requests, p99 {} ms.",
            soak.secs,
            soak.rate_per_bff,
            soak.requests,
            ms(soak.p99_us)
        );
    } else {
        let _ = writeln!(s, "\nSoak: skipped in quick mode.");
    }

    // Per query.
    let _ = writeln!(s, "\n## Downstream calls of one request alone\n");
    let _ = writeln!(
        s,
        "| query | server | levels | response bytes | calls | by route |\n|---|---|---|---|---|---|"
    );
    for r in report
        .results
        .iter()
        .filter(|r| Some(r.latency_ms) == report.plan.latencies_ms.first().copied())
    {
        let routes: Vec<String> = r
            .single_calls
            .iter()
            .map(|(k, v)| format!("`{k}` ×{v}"))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {:?} | {} | {} | {} | {} |",
            r.query,
            r.server,
            r.levels,
            r.response_bytes,
            r.single_total_calls,
            routes.join(", ")
        );
    }
    for &latency in &report.plan.latencies_ms {
        let _ = writeln!(s, "\n## {latency} ms injected downstream latency\n");
        let _ = writeln!(
            s,
            "Latencies and overheads in ms. `sat` = closed loop at saturation (latency not CO-corrected); `N rps` = open loop.\n"
        );
        let _ = writeln!(
            s,
            "| query | phase | requests | shed | rps | p50 | p99 | p99.9 | max | overhead p50 | overhead p99 | overhead p99.9 | CPU µs/query | calls/query | bytes/resp | gen. lag p99 |"
        );
        let _ = writeln!(
            s,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in report.results.iter().filter(|r| r.latency_ms == latency) {
            for p in &r.phases {
                let phase = match p.offered_rps {
                    Some(rate) => format!("{rate} rps"),
                    None => "sat".to_owned(),
                };
                let lag = p.send_lag_p99_us.map_or_else(|| "–".to_owned(), ms);
                let _ = writeln!(
                    s,
                    "| {} | {phase} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.3} | {:.0} | {lag} |",
                    r.query,
                    p.requests,
                    p.shed,
                    p.achieved_rps,
                    ms(p.p50_us),
                    ms(p.p99_us),
                    ms(p.p999_us),
                    ms(p.max_us),
                    signed_ms(p.overhead_p50_us),
                    signed_ms(p.overhead_p99_us),
                    signed_ms(p.overhead_p999_us),
                    p.cpu_us_per_query,
                    p.calls_per_query,
                    p.bytes_per_response
                );
            }
            if !r.skipped_rates.is_empty() {
                let _ = writeln!(
                    s,
                    "| {} | skipped {:?} rps (above 90 % of saturation) | | | | | | | | | | | | | | |",
                    r.query, r.skipped_rates
                );
            }
        }
    }
    let _ = writeln!(s, "\n## Memory\n\n| server | peak RSS (VmHWM) |\n|---|---|");
    for m in &report.memory {
        let _ = writeln!(
            s,
            "| {:?} | {:.1} MB |",
            m.server,
            m.peak_rss_kb as f64 / 1024.0
        );
    }
    let _ = writeln!(
        s,
        "\n## Latency against offered load\n\n![latency against offered load]({svg})"
    );
    s
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// p50 (dashed) and p99 (solid) latency against offered rate, one panel per injected latency.
fn chart(report: &Report) -> String {
    let (pw, ph) = (520.0, 320.0);
    let (ml, mt, mb) = (60.0, 40.0, 50.0);
    let latencies = &report.plan.latencies_ms;
    let width = ml + (pw + ml) * latencies.len() as f64 + 180.0;
    let height = mt + ph + mb;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let queries: Vec<&str> = {
        let mut q: Vec<&str> = Vec::new();
        for r in &report.results {
            if !q.contains(&r.query.as_str()) {
                q.push(&r.query);
            }
        }
        q
    };
    for (panel, &latency) in latencies.iter().enumerate() {
        let x0 = ml + panel as f64 * (pw + ml);
        let y0 = mt;
        let rows: Vec<&QueryResult> = report
            .results
            .iter()
            .filter(|r| r.latency_ms == latency)
            .collect();
        let max_rate = rows
            .iter()
            .flat_map(|r| r.phases.iter().filter_map(|p| p.offered_rps))
            .max()
            .unwrap_or(1) as f64;
        let max_lat = rows
            .iter()
            .flat_map(|r| {
                r.phases
                    .iter()
                    .filter(|p| p.kind == "open")
                    .map(|p| p.p99_us)
            })
            .max()
            .unwrap_or(1000) as f64
            / 1000.0;
        let max_lat = (max_lat * 1.1).max(1.0).ceil();
        let px = |rate: f64| x0 + rate / (max_rate * 1.05) * pw;
        let py = |lat_ms: f64| y0 + ph - lat_ms / max_lat * ph;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="14" font-weight="bold">{latency} ms downstream latency: p99 (solid), p50 (dashed)</text>"#,
            x0,
            y0 - 15.0
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##
        );
        for i in 0..=5 {
            let v = max_lat * f64::from(i) / 5.0;
            let y = py(v);
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end">{v:.1}</text>"##,
                x0 + pw,
                x0 - 5.0,
                y + 4.0
            );
            let r = max_rate * 1.05 * f64::from(i) / 5.0;
            let x = px(r);
            let _ = writeln!(
                s,
                r#"<text x="{x}" y="{}" text-anchor="middle">{r:.0}</text>"#,
                y0 + ph + 18.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">offered load (requests/s, open loop)</text>"#,
            x0 + pw / 2.0,
            y0 + ph + 38.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">latency (ms)</text>"#,
            x0 - 40.0,
            y0 + ph / 2.0,
            x0 - 40.0,
            y0 + ph / 2.0
        );
        for r in rows {
            let color =
                COLORS[queries.iter().position(|q| *q == r.query).unwrap_or(0) % COLORS.len()];
            let mut open: Vec<&Phase> = r.phases.iter().filter(|p| p.kind == "open").collect();
            open.sort_by_key(|p| p.offered_rps);
            for (pick, dash) in [(0, ""), (1, r#" stroke-dasharray="4 3""#)] {
                let points: Vec<String> = open
                    .iter()
                    .map(|p| {
                        let v = if pick == 0 { p.p99_us } else { p.p50_us };
                        format!(
                            "{:.1},{:.1}",
                            px(p.offered_rps.unwrap_or(0) as f64),
                            py(v as f64 / 1000.0)
                        )
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                    points.join(" ")
                );
                if pick == 0 {
                    for p in &points {
                        if let Some((x, y)) = p.split_once(',') {
                            let _ =
                                writeln!(s, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
                        }
                    }
                }
            }
        }
    }
    let lx = ml + (pw + ml) * latencies.len() as f64 - 20.0;
    for (i, q) in queries.iter().enumerate() {
        let y = mt + 10.0 + i as f64 * 20.0;
        let color = COLORS[i % COLORS.len()];
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{q}</text>"#,
            lx + 20.0,
            lx + 25.0,
            y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
