//! `schema-tools`: the command line of the schema tooling.
//!
//! ```text
//! schema-tools sdl NAME                  print a BFF's SDL (NAME: mobile, web, admin)
//! schema-tools export [--dir DIR]        write schema/{mobile,web,admin}.graphql from code
//! schema-tools check [--dir DIR]         exit 1 when a file under schema/ is stale
//! schema-tools diff OLD.graphql NEW.graphql
//! schema-tools diff --git REV [NAME...]  compare schema/NAME.graphql at git REV with the code
//! ```
//!
//! `diff` prints one line per change (`breaking`, `dangerous` or `safe`, the path, what
//! happened) and exits 1 when any change is breaking, so CI can guard the clients. Exit code 2
//! is a usage, file or git error.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use schema_tools::diff::{self, Change, DiffError};
use schema_tools::{SCHEMAS, Schema};

const USAGE: &str = "usage:
  schema-tools sdl NAME                  print a BFF's SDL (NAME: mobile, web, admin)
  schema-tools export [--dir DIR]        write schema/{mobile,web,admin}.graphql from code
  schema-tools check [--dir DIR]         exit 1 when a file under schema/ is stale
  schema-tools diff OLD.graphql NEW.graphql
  schema-tools diff --git REV [NAME...]  compare schema/NAME.graphql at git REV with the code";

/// Why a command failed (exit code 2).
#[derive(Debug, thiserror::Error)]
enum ToolError {
    #[error("{0}\n{USAGE}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("git: {0}")]
    Git(String),
    #[error(transparent)]
    Diff(#[from] DiffError),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("schema-tools: {err}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, ToolError> {
    let (command, rest) = args
        .split_first()
        .ok_or_else(|| ToolError::Usage("no command given".into()))?;
    match command.as_str() {
        "sdl" => {
            let [name] = rest else {
                return Err(ToolError::Usage("sdl takes one BFF name".into()));
            };
            print!("{}", (schema(name)?.sdl)());
            Ok(ExitCode::SUCCESS)
        }
        "export" => {
            let dir = dir_option(rest)?;
            for schema in SCHEMAS {
                let path = dir.join(format!("{}.graphql", schema.name));
                let sdl = (schema.sdl)();
                let before = std::fs::read_to_string(&path).ok();
                std::fs::write(&path, &sdl).map_err(|source| ToolError::Io {
                    path: path.clone(),
                    source,
                })?;
                let state = match before {
                    Some(before) if before == sdl => "unchanged",
                    Some(_) => "updated",
                    None => "created",
                };
                println!("{state:<9}  {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        "check" => {
            let dir = dir_option(rest)?;
            let mut stale = false;
            for schema in SCHEMAS {
                let path = dir.join(format!("{}.graphql", schema.name));
                if std::fs::read_to_string(&path).ok() != Some((schema.sdl)()) {
                    println!("stale      {}", path.display());
                    stale = true;
                }
            }
            if stale {
                println!("regenerate with `cargo run -p schema-tools -- export`");
                return Ok(ExitCode::FAILURE);
            }
            println!("schema files are up to date");
            Ok(ExitCode::SUCCESS)
        }
        "diff" => match rest {
            [flag, rev, names @ ..] if flag == "--git" => {
                let schemas: Vec<&Schema> = if names.is_empty() {
                    SCHEMAS.iter().collect()
                } else {
                    names.iter().map(|n| schema(n)).collect::<Result<_, _>>()?
                };
                let mut breaking = false;
                for schema in schemas {
                    let old = git_show(rev, &schema.file())?;
                    println!("== {} ({} at {rev} -> code)", schema.name, schema.file());
                    breaking |= report(&diff::diff(old.as_deref().unwrap_or(""), &(schema.sdl)())?);
                }
                Ok(exit(breaking))
            }
            [old, new] if !old.starts_with("--") => {
                let old = read(Path::new(old))?;
                let new = read(Path::new(new))?;
                Ok(exit(report(&diff::diff(&old, &new)?)))
            }
            _ => Err(ToolError::Usage(
                "diff takes OLD.graphql NEW.graphql, or --git REV [NAME...]".into(),
            )),
        },
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(ToolError::Usage(format!("unknown command {other:?}"))),
    }
}

fn schema(name: &str) -> Result<&'static Schema, ToolError> {
    schema_tools::find(name).ok_or_else(|| {
        ToolError::Usage(format!("unknown BFF {name:?} (known: mobile, web, admin)"))
    })
}

fn dir_option(rest: &[String]) -> Result<PathBuf, ToolError> {
    match rest {
        [] => Ok(schema_tools::workspace_root().join("schema")),
        [flag, dir] if flag == "--dir" => Ok(PathBuf::from(dir)),
        _ => Err(ToolError::Usage("expected nothing or --dir DIR".into())),
    }
}

fn read(path: &Path) -> Result<String, ToolError> {
    std::fs::read_to_string(path).map_err(|source| ToolError::Io {
        path: path.to_owned(),
        source,
    })
}

/// `git show REV:PATH` from the workspace root; `None` when the file did not exist at REV.
fn git_show(rev: &str, path: &str) -> Result<Option<String>, ToolError> {
    let root = schema_tools::workspace_root();
    let verify = Command::new("git")
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .current_dir(&root)
        .output()
        .map_err(|err| ToolError::Git(format!("cannot run git: {err}")))?;
    if !verify.status.success() {
        return Err(ToolError::Git(format!("unknown revision {rev:?}")));
    }
    let output = Command::new("git")
        .args(["show", &format!("{rev}:{path}")])
        .current_dir(&root)
        .output()
        .map_err(|err| ToolError::Git(format!("cannot run git: {err}")))?;
    if !output.status.success() {
        eprintln!("note: {path} does not exist at {rev}; every type counts as added");
        return Ok(None);
    }
    String::from_utf8(output.stdout)
        .map(Some)
        .map_err(|_| ToolError::Git(format!("{rev}:{path} is not UTF-8")))
}

/// Prints one line per change and a summary; true when any change is breaking.
fn report(changes: &[Change]) -> bool {
    for change in changes {
        println!("{change}");
    }
    println!("{}", diff::summary(changes));
    diff::has_breaking(changes)
}

fn exit(breaking: bool) -> ExitCode {
    if breaking {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
