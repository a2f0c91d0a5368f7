//! The GraphiQL page of a BFF: its title, the example operations it opens with, and (in dev mode)
//! the dev token pre-filled in the headers editor.

/// What a BFF's GraphiQL page shows.
#[derive(Debug, Clone)]
pub struct GraphiqlPage {
    /// Page title, e.g. "bff-mobile".
    pub title: String,
    /// The operations the editor opens with.
    pub default_query: String,
    /// Headers pre-filled in the headers editor (dev mode only).
    pub default_headers: Option<String>,
}

impl GraphiqlPage {
    /// A page; `bearer` pre-fills `Authorization: Bearer …` when given.
    pub fn new(title: &str, default_query: &str, bearer: Option<String>) -> Self {
        Self {
            title: title.to_owned(),
            default_query: default_query.to_owned(),
            default_headers: bearer.map(|token| {
                serde_json::json!({ "Authorization": format!("Bearer {token}") }).to_string()
            }),
        }
    }

    /// The HTML page.
    pub fn render(&self) -> String {
        let config = serde_json::json!({
            "endpoint": "/graphql",
            "defaultQuery": self.default_query,
            "defaultHeaders": self.default_headers,
        });
        // `</` cannot appear inside the inline script.
        let config = config.to_string().replace("</", "<\\/");
        TEMPLATE
            .replace("{{TITLE}}", &html_escape(&self.title))
            .replace("{{CONFIG}}", &config)
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
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="https://unpkg.com/react@18.3.1/umd/react.production.min.js"></script>
  <script src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js"></script>
  <script src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js"></script>
  <script>
    const config = {{CONFIG}};
    const fetcher = GraphiQL.createFetcher({ url: config.endpoint });
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultQuery: config.defaultQuery,
        defaultHeaders: config.defaultHeaders || undefined,
        shouldPersistHeaders: false,
      })
    );
  </script>
</body>
</html>
"#;
