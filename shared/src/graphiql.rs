//! The GraphiQL page of a BFF and the files it loads, all served by the BFF itself so the page
//! works with no internet access: `GET /graphiql` (the page), `GET /graphiql/assets/{file}`
//! (GraphiQL's and React's browser bundles, embedded in the binary by `shared/build.rs` from the
//! npm packages pinned in `shared/graphiql/package-lock.json`, plus this crate's own boot
//! script). The page opens with one tab per example operation of the BFF and, in dev mode, the
//! dev token in the headers editor, so the first click on Run returns data.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// The path of the page.
pub const PAGE_PATH: &str = "/graphiql";
/// The path under which the page's scripts and styles are served.
pub const ASSETS_PATH: &str = "/graphiql/assets";
/// The version of GraphiQL embedded (from the pinned npm package).
pub const GRAPHIQL_VERSION: &str = env!("GRAPHIQL_VERSION");

/// Fingerprint of the embedded assets; asset URLs carry it so they can be cached for a year.
const ASSETS_HASH: &str = env!("GRAPHIQL_ASSETS_HASH");

/// One file served under [`ASSETS_PATH`].
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! npm_asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("GRAPHIQL_ASSETS_DIR"), "/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the page loads, in the order the page loads them.
const ASSETS: &[Asset] = &[
    npm_asset!("graphiql.min.css", CSS),
    npm_asset!("react.production.min.js", JS),
    npm_asset!("react-dom.production.min.js", JS),
    npm_asset!("graphiql.min.js", JS),
    Asset {
        name: "bff-graphiql.js",
        content_type: JS,
        body: BOOT_JS.as_bytes(),
    },
];

/// What a BFF's GraphiQL page shows.
#[derive(Debug, Clone)]
pub struct GraphiqlPage {
    /// Page title, e.g. "bff-mobile".
    pub title: String,
    /// The example operations the editor opens with (one tab per operation).
    pub default_query: String,
    /// Headers pre-filled in the headers editor (dev mode only), as JSON.
    pub default_headers: Option<String>,
}

/// One tab GraphiQL opens with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleTab {
    /// The operation's name, when it has one.
    pub name: Option<String>,
    /// The tab's document: the operation, the comments right above it, the fragments it uses.
    pub query: String,
}

impl GraphiqlPage {
    /// A page; `bearer` pre-fills `Authorization: Bearer …` when given.
    pub fn new(title: &str, default_query: &str, bearer: Option<String>) -> Self {
        Self {
            title: title.to_owned(),
            default_query: default_query.to_owned(),
            default_headers: bearer.map(|token| {
                let headers = json!({ "Authorization": format!("Bearer {token}") });
                serde_json::to_string_pretty(&headers).unwrap_or_else(|_| headers.to_string())
            }),
        }
    }

    /// The tabs the page opens with: one per example operation.
    pub fn tabs(&self) -> Vec<ExampleTab> {
        split_operations(&self.default_query)
    }

    /// The HTML page. It has no inline script: the configuration is a JSON data block read by
    /// the boot script, so the page can be served with a strict Content-Security-Policy.
    pub fn render(&self) -> String {
        let tabs: Vec<_> = self
            .tabs()
            .into_iter()
            .map(|tab| json!({ "query": tab.query, "headers": self.default_headers }))
            .collect();
        let mut config = json!({
            "endpoint": "/graphql",
            "tabs": tabs,
            "defaultQuery": self.default_query,
            "headers": self.default_headers,
        });
        // Saved editor state is kept per set of examples: new examples open fresh.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        config.to_string().hash(&mut hasher);
        config["storageKey"] = json!(format!("{:016x}", hasher.finish()));
        // `<` never appears raw inside the data block, so it cannot close it.
        let config = config.to_string().replace('<', "\\u003c");

        let mut head = String::new();
        let mut scripts = String::new();
        for asset in ASSETS {
            let url = format!("{ASSETS_PATH}/{}?v={ASSETS_HASH}", asset.name);
            if asset.content_type == CSS {
                head.push_str(&format!("  <link rel=\"stylesheet\" href=\"{url}\">\n"));
            } else {
                scripts.push_str(&format!("  <script src=\"{url}\"></script>\n"));
            }
        }
        TEMPLATE
            .replace("{{TITLE}}", &html_escape(&self.title))
            .replace("{{STYLES}}\n", &head)
            .replace("{{SCRIPTS}}\n", &scripts)
            .replace("{{CONFIG}}", &config)
    }
}

/// The routes of GraphiQL: the page and its assets when `page` is given; otherwise both answer
/// 404 with a GraphQL error body.
pub fn router(page: Option<&GraphiqlPage>) -> Router {
    let Some(page) = page else {
        return Router::new()
            .route(PAGE_PATH, get(switched_off))
            .route(&format!("{ASSETS_PATH}/{{file}}"), get(switched_off));
    };
    let html = page.render();
    Router::new()
        .route(
            PAGE_PATH,
            get(move || {
                let html = html.clone();
                async move { page_response(html) }
            }),
        )
        .route(&format!("{ASSETS_PATH}/{{file}}"), get(asset))
}

/// The Content-Security-Policy of the page: everything from this server only. GraphiQL sets
/// inline styles and its fonts and icons are `data:` URLs.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    font-src 'self' data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

fn page_response(html: String) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page may carry the dev token: never stored by caches.
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        html,
    )
        .into_response();
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                // URLs carry the assets' fingerprint: a new build gets new URLs.
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.body,
        )
            .into_response(),
        None => refusal(StatusCode::NOT_FOUND, "NOT_FOUND", "no such GraphiQL asset"),
    }
}

async fn switched_off() -> Response {
    refusal(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "GraphiQL is switched off on this server",
    )
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

/// Splits an example document into one tab per operation, in document order. A tab holds its
/// operation, the comment lines right above it (the first tab also the document's leading
/// comments) and the fragments the operation uses. A document that does not parse, or has a
/// single operation, stays one tab.
pub fn split_operations(document: &str) -> Vec<ExampleTab> {
    let whole = || {
        vec![ExampleTab {
            name: None,
            query: document.to_owned(),
        }]
    };
    let Ok(parsed) = async_graphql::parser::parse_query(document) else {
        return whole();
    };
    let mut operations: Vec<(usize, Option<String>, &SelectionSet)> = parsed
        .operations
        .iter()
        .map(|(name, op)| {
            (
                op.pos.line,
                name.map(|n| n.to_string()),
                &op.node.selection_set.node,
            )
        })
        .collect();
    if operations.len() < 2 {
        return whole();
    }
    operations.sort_by_key(|(line, ..)| *line);
    let fragment_lines: HashMap<&str, usize> = parsed
        .fragments
        .iter()
        .map(|(name, fragment)| (name.as_str(), fragment.pos.line))
        .collect();
    let mut starts: Vec<usize> = operations
        .iter()
        .map(|(line, ..)| *line)
        .chain(fragment_lines.values().copied())
        .collect();
    starts.sort_unstable();
    if starts.windows(2).any(|pair| pair[0] == pair[1]) {
        // Two definitions on one line: no clean split by lines.
        return whole();
    }

    let lines: Vec<&str> = document.lines().collect();
    // The line span (0-based, end exclusive) of the definition starting at 1-based `line`.
    let span = |line: usize| -> (usize, usize) {
        let index = starts.iter().position(|s| *s == line).unwrap_or(0);
        let mut begin = line.saturating_sub(1);
        if index == 0 {
            begin = 0;
        } else {
            while begin > 0 && lines[begin - 1].trim_start().starts_with('#') {
                begin -= 1;
            }
        }
        let end = starts
            .get(index + 1)
            .map_or(lines.len(), |next| comment_start(&lines, next - 1));
        (begin, end.max(begin))
    };
    let text = |(begin, end): (usize, usize)| lines[begin..end].join("\n").trim().to_owned();

    operations
        .iter()
        .map(|(line, name, selection_set)| {
            let mut used = BTreeSet::new();
            collect_fragments(&parsed, selection_set, &mut used);
            let mut query = text(span(*line));
            let mut fragments: Vec<usize> = used
                .iter()
                .filter_map(|name| fragment_lines.get(name.as_str()).copied())
                .collect();
            fragments.sort_unstable();
            for fragment_line in fragments {
                query.push_str("\n\n");
                query.push_str(&text(span(fragment_line)));
            }
            query.push('\n');
            ExampleTab {
                name: name.clone(),
                query,
            }
        })
        .collect()
}

/// The first line of the comment block right above 0-based line `index` (itself when none).
fn comment_start(lines: &[&str], index: usize) -> usize {
    let mut begin = index;
    while begin > 0 && lines[begin - 1].trim_start().starts_with('#') {
        begin -= 1;
    }
    begin
}

/// The names of the fragments `selection_set` uses, transitively.
fn collect_fragments(
    document: &ExecutableDocument,
    selection_set: &SelectionSet,
    used: &mut BTreeSet<String>,
) {
    for item in &selection_set.items {
        match &item.node {
            Selection::Field(field) => {
                collect_fragments(document, &field.node.selection_set.node, used);
            }
            Selection::InlineFragment(inline) => {
                collect_fragments(document, &inline.node.selection_set.node, used);
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                if used.insert(name.to_string())
                    && let Some(fragment) = document.fragments.get(name)
                {
                    collect_fragments(document, &fragment.node.selection_set.node, used);
                }
            }
        }
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{TITLE}} · GraphiQL</title>
{{STYLES}}
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <noscript>GraphiQL needs JavaScript. The GraphQL endpoint is POST /graphql.</noscript>
  <script type="application/json" id="graphiql-config">{{CONFIG}}</script>
{{SCRIPTS}}
</body>
</html>
"#;

/// Starts GraphiQL from the page's JSON configuration block.
const BOOT_JS: &str = r#"(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);

  // Editor state is saved in localStorage under a key per set of examples, so changed
  // examples (or a new dev token) open fresh, and older saved states are dropped.
  var prefix = 'bff-graphiql:' + config.storageKey + ':';
  var storage = null;
  try {
    var ours = function () {
      var keys = [];
      for (var i = 0; i < window.localStorage.length; i++) {
        var key = window.localStorage.key(i);
        if (key !== null && key.indexOf(prefix) === 0) keys.push(key);
      }
      return keys;
    };
    for (var i = window.localStorage.length - 1; i >= 0; i--) {
      var key = window.localStorage.key(i);
      if (key !== null && key.indexOf('bff-graphiql:') === 0 && key.indexOf(prefix) !== 0) {
        window.localStorage.removeItem(key);
      }
    }
    storage = {
      getItem: function (key) { return window.localStorage.getItem(prefix + key); },
      setItem: function (key, value) { window.localStorage.setItem(prefix + key, value); },
      removeItem: function (key) { window.localStorage.removeItem(prefix + key); },
      clear: function () { ours().forEach(function (key) { window.localStorage.removeItem(key); }); },
      get length() { return ours().length; }
    };
  } catch (e) {
    storage = null; // no localStorage (private mode): nothing is saved
  }

  var props = {
    fetcher: GraphiQL.createFetcher({ url: config.endpoint }),
    defaultTabs: config.tabs,
    defaultQuery: config.defaultQuery,
    storage: storage,
    // Dev mode: the dev token stays in the headers editor across reloads.
    shouldPersistHeaders: Boolean(config.headers)
  };
  if (config.headers) {
    props.defaultHeaders = config.headers;
    props.defaultEditorToolsVisibility = 'headers';
  }
  ReactDOM.createRoot(document.getElementById('graphiql'))
    .render(React.createElement(GraphiQL, props));
})();
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const EXAMPLES: &str = r#"# shop: one query per screen.

query Home {
  home { viewer { name } }
}

# The product screen.
# Two comment lines.
query Product($id: ID! = "1") {
  product(id: $id) { ...ProductCard reviews { ...Review } }
}

mutation PlaceOrder {
  placeOrder(items: [{ productId: "1", quantity: 1 }]) { id }
}

fragment ProductCard on Product { id name ...Price }
fragment Price on Product { price { formatted } }
fragment Review on Review { rating }
"#;

    #[test]
    fn each_operation_opens_in_its_own_tab_with_its_comments_and_fragments() {
        let tabs = split_operations(EXAMPLES);
        let names: Vec<_> = tabs.iter().map(|t| t.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["Home", "Product", "PlaceOrder"]);
        assert_eq!(
            tabs[0].query,
            "# shop: one query per screen.\n\nquery Home {\n  home { viewer { name } }\n}\n"
        );
        let product = &tabs[1].query;
        assert!(product.starts_with("# The product screen.\n# Two comment lines.\nquery Product"));
        assert!(product.contains("fragment ProductCard on Product"));
        assert!(product.contains("fragment Price on Product"));
        assert!(product.contains("fragment Review on Review"));
        assert!(!tabs[2].query.contains("fragment"), "{}", tabs[2].query);
        // Every tab is a valid document on its own.
        for tab in &tabs {
            let doc = async_graphql::parser::parse_query(&tab.query).unwrap();
            assert_eq!(doc.operations.iter().count(), 1, "{}", tab.query);
        }
    }

    #[test]
    fn a_single_operation_or_an_unparsable_document_stays_one_tab() {
        assert_eq!(split_operations("{ a }").len(), 1);
        assert_eq!(split_operations("query A { a } query B { b }").len(), 1);
        let broken = "query A { a ";
        assert_eq!(split_operations(broken)[0].query, broken);
    }

    #[test]
    fn the_page_loads_nothing_from_another_host_and_carries_the_token() {
        let page = GraphiqlPage::new("bff-x</title>", EXAMPLES, Some("tok".into()));
        let html = page.render();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
        assert!(html.contains("bff-x&lt;/title&gt; · GraphiQL"));
        for asset in ASSETS {
            assert!(html.contains(&format!("{ASSETS_PATH}/{}?v=", asset.name)));
        }
        assert!(html.contains("Bearer tok"));
        // The examples' text cannot close the data block.
        let tricky = GraphiqlPage::new("t", "query A { a } # </script><script>", None);
        assert!(!tricky.render().contains("</script><script>"));
        assert!(
            !GraphiqlPage::new("t", "{ a }", None)
                .render()
                .contains("Bearer")
        );
    }

    #[test]
    fn outside_dev_mode_graphiql_defaults_to_off_for_admin_only() {
        use crate::config::{BffConfig, graphiql_default};
        assert!(!graphiql_default("bff-admin", false));
        assert!(graphiql_default("bff-admin", true));
        assert!(graphiql_default("bff-mobile", false));
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 4003));
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        let dev = BffConfig::from_vars_for("bff-admin", listen, vars(&[("BFF_DEV_MODE", "1")]));
        assert!(dev.unwrap().graphiql);
        let on = BffConfig::from_vars_for(
            "bff-admin",
            listen,
            vars(&[("BFF_DEV_MODE", "1"), ("BFF_GRAPHIQL", "false")]),
        );
        assert!(!on.unwrap().graphiql, "BFF_GRAPHIQL wins over the default");
    }

    #[test]
    fn the_assets_are_embedded() {
        let js = ASSETS.iter().find(|a| a.name == "graphiql.min.js").unwrap();
        assert!(js.body.len() > 100_000);
        assert!(String::from_utf8_lossy(js.body).contains("window.GraphiQL"));
        let css = ASSETS
            .iter()
            .find(|a| a.name == "graphiql.min.css")
            .unwrap();
        assert!(css.body.len() > 10_000);
        assert!(!GRAPHIQL_VERSION.is_empty());
    }
}
