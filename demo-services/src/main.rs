//! The `demo-services` binary: runs the users, orders and products stand-ins until Ctrl-C.

use std::{net::SocketAddr, process::ExitCode, str::FromStr};

use demo_services::{DemoConfig, DemoServices};

const USAGE: &str = "usage: demo-services [--host IP] [--users-port N] [--orders-port N] \
[--products-port N] [--users N] [--products N] [--orders N] [--seed N] [--latency-ms N] \
[--jitter-ms N]
defaults: host 127.0.0.1, ports 5001/5002/5003, 10000 users, 2000 products, 100000 orders, \
seed 42, no latency";

struct Args {
    host: String,
    ports: [u16; 3],
    config: DemoConfig,
}

fn value<T: FromStr>(flag: &str, it: &mut impl Iterator<Item = String>) -> Result<T, String> {
    let raw = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
    raw.parse()
        .map_err(|_| format!("{flag}: invalid value {raw:?}"))
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = Args {
        host: "127.0.0.1".to_owned(),
        ports: [5001, 5002, 5003],
        config: DemoConfig::default(),
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut source: Box<dyn Iterator<Item = String>> = match inline {
            Some(v) => Box::new(std::iter::once(v)),
            None => Box::new(it.by_ref()),
        };
        let src = &mut source;
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--host" => out.host = value(&flag, src)?,
            "--users-port" => out.ports[0] = value(&flag, src)?,
            "--orders-port" => out.ports[1] = value(&flag, src)?,
            "--products-port" => out.ports[2] = value(&flag, src)?,
            "--users" => out.config.users = value(&flag, src)?,
            "--products" => out.config.products = value(&flag, src)?,
            "--orders" => out.config.orders = value(&flag, src)?,
            "--seed" => out.config.seed = value(&flag, src)?,
            "--latency-ms" => out.config.latency_ms = value(&flag, src)?,
            "--jitter-ms" => out.config.jitter_ms = value(&flag, src)?,
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    Ok(Some(out))
}

fn addr(host: &str, port: u16) -> Result<SocketAddr, String> {
    format!("{host}:{port}")
        .parse()
        .map_err(|_| format!("invalid host {host:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("demo-services: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let addrs = match args
        .ports
        .iter()
        .map(|&p| addr(&args.host, p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(a) => a,
        Err(err) => {
            eprintln!("demo-services: {err}");
            return ExitCode::from(2);
        }
    };
    let services = match DemoServices::start(args.config, addrs[0], addrs[1], addrs[2]).await {
        Ok(s) => s,
        Err(err) => {
            eprintln!("demo-services: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("users    service on {}", services.users.url());
    println!("orders   service on {}", services.orders.url());
    println!("products service on {}", services.products.url());
    let _ = tokio::signal::ctrl_c().await;
    drop(services);
    ExitCode::SUCCESS
}
