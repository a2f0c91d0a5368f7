//! Schema tooling of the BFFs: each BFF's SDL by name (for printing and exporting to
//! `schema/*.graphql`) and [`diff`], which classifies the changes between two SDL documents as
//! breaking, dangerous or safe. The `schema-tools` binary is the command line around them.

pub mod diff;

use shared::server::Bff;

/// One BFF whose schema is exported.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Short name, also the file name under `schema/`: `mobile`, `web`, `admin`.
    pub name: &'static str,
    /// The BFF crate, e.g. `bff-mobile`.
    pub crate_name: &'static str,
    /// Prints the BFF's SDL from code.
    pub sdl: fn() -> String,
}

impl Schema {
    /// `schema/<name>.graphql`, relative to the workspace root.
    pub fn file(&self) -> String {
        format!("schema/{}.graphql", self.name)
    }
}

/// Every BFF's schema, in port order.
pub const SCHEMAS: &[Schema] = &[
    Schema {
        name: "mobile",
        crate_name: bff_mobile::Mobile::NAME,
        sdl: bff_mobile::Mobile::sdl,
    },
    Schema {
        name: "web",
        crate_name: bff_web::Web::NAME,
        sdl: bff_web::Web::sdl,
    },
    Schema {
        name: "admin",
        crate_name: bff_admin::Admin::NAME,
        sdl: bff_admin::Admin::sdl,
    },
];

/// The schema called `name` (`mobile`, or the crate name `bff-mobile`).
pub fn find(name: &str) -> Option<&'static Schema> {
    SCHEMAS
        .iter()
        .find(|s| s.name == name || s.crate_name == name)
}

/// The workspace root (where `schema/` is), as built.
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
