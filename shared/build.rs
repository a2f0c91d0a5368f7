//! Build step of the shared crate: fetches GraphiQL's and React's browser bundles, pinned by
//! `graphiql/package.json` and `graphiql/package-lock.json`, with `npm ci` into `OUT_DIR`, and
//! leaves the few files the GraphiQL page needs in `OUT_DIR/graphiql-assets/` for
//! `include_bytes!`. The BFFs then serve them themselves, so GraphiQL works with no internet.
//! Needs node and npm at build time (and the npm registry the first time; npm caches).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files the page loads, as (path under node_modules, name served and embedded).
const FILES: &[(&str, &str)] = &[
    (
        "react/umd/react.production.min.js",
        "react.production.min.js",
    ),
    (
        "react-dom/umd/react-dom.production.min.js",
        "react-dom.production.min.js",
    ),
    ("graphiql/graphiql.min.js", "graphiql.min.js"),
    ("graphiql/graphiql.min.css", "graphiql.min.css"),
];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let source = manifest_dir.join("graphiql");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=graphiql/package.json");
    println!("cargo:rerun-if-changed=graphiql/package-lock.json");

    // npm works in a copy inside OUT_DIR: the source tree stays untouched.
    let work = out_dir.join("graphiql-npm");
    std::fs::create_dir_all(&work)?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), work.join(file))
            .map_err(|err| format!("copying graphiql/{file}: {err}"))?;
    }
    npm_ci(&work)?;

    let assets = out_dir.join("graphiql-assets");
    std::fs::create_dir_all(&assets)?;
    let mut hash = Fnv64::new();
    for (from, to) in FILES {
        let bytes = std::fs::read(work.join("node_modules").join(from))
            .map_err(|err| format!("npm ci did not produce node_modules/{from}: {err}"))?;
        hash.write(&bytes);
        std::fs::write(assets.join(to), &bytes)?;
    }
    let graphiql_version = package_version(&work.join("node_modules/graphiql/package.json"))?;
    // Only the four files are kept; node_modules (~50 MB) is not needed any more.
    std::fs::remove_dir_all(work.join("node_modules"))?;

    println!("cargo:rustc-env=GRAPHIQL_ASSETS_DIR={}", assets.display());
    println!(
        "cargo:rustc-env=GRAPHIQL_ASSETS_HASH={:016x}",
        hash.finish()
    );
    println!("cargo:rustc-env=GRAPHIQL_VERSION={graphiql_version}");
    Ok(())
}

/// `npm ci` in `dir`, quietly; a clear message when npm is missing or fails.
fn npm_ci(dir: &Path) -> Result<(), Box<dyn Error>> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let output = Command::new(npm)
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(dir)
        .output()
        .map_err(|err| {
            format!(
                "shared/build.rs: could not run `npm ci` to fetch GraphiQL's assets; node and npm \
                 are needed to build (see the README): {err}"
            )
        })?;
    if !output.status.success() {
        let mut message = format!(
            "shared/build.rs: `npm ci` in {} failed ({}) while fetching GraphiQL's assets:\n",
            dir.display(),
            output.status
        );
        message.push_str(&String::from_utf8_lossy(&output.stdout));
        message.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(message.into());
    }
    Ok(())
}

/// The `"version"` of a package.json, without a JSON parser (build scripts stay dependency-free).
fn package_version(path: &Path) -> Result<String, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let version = text
        .split("\"version\"")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .ok_or_else(|| format!("no version in {}", path.display()))?;
    Ok(version
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect())
}

/// FNV-1a, 64 bits: a cache-busting fingerprint of the asset bytes (not a security hash).
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
