//! Operation limits checked on the query text and the parsed document before execution: characters,
//! tokens, depth, aliases (repeated unaliased fields such as 500 × `__typename` count too), root
//! fields, directives, cost with list multipliers from `first`, page size, and fragment cycles.
//! Fragments are analysed once each (memoised), so a fragment "bomb" costs linear time.

use std::collections::HashMap;

use async_graphql::Variables;
use async_graphql::parser::Positioned;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql_value::{Name, Value};

use super::config::OperationLimits;
use super::{EdgeRefusal, codes};

/// What the checks learnt about an accepted document.
#[derive(Debug)]
pub struct Analysis {
    /// The parsed document, handed to async-graphql so it is parsed once.
    pub document: ExecutableDocument,
    /// The type of the operation that will run (`None` when the name matches nothing: the
    /// executor reports that).
    pub operation: Option<OperationType>,
}

/// Checks `query` against `limits` and parses it.
pub fn check(
    query: &str,
    operation_name: Option<&str>,
    variables: &Variables,
    limits: &OperationLimits,
) -> Result<Analysis, EdgeRefusal> {
    let document = check_document(query, limits)?;
    let operation = check_operation(&document, operation_name, variables, limits)?;
    Ok(Analysis {
        document,
        operation,
    })
}

/// The checks that depend on the text alone (characters, tokens, syntax, fragment cycles,
/// directives, aliases), returning the parsed document: their result may be cached by text
/// ([`crate::doc_cache`]).
pub fn check_document(
    query: &str,
    limits: &OperationLimits,
) -> Result<ExecutableDocument, EdgeRefusal> {
    let chars = query.chars().count();
    if chars > limits.max_chars {
        return Err(EdgeRefusal::bad_request(
            codes::QUERY_TOO_LARGE,
            format!("the query has more than {} characters", limits.max_chars),
        ));
    }
    if count_tokens(query, limits.max_tokens) > limits.max_tokens {
        return Err(EdgeRefusal::bad_request(
            codes::QUERY_TOO_LARGE,
            format!("the query has more than {} tokens", limits.max_tokens),
        ));
    }
    let document = async_graphql::parser::parse_query(query).map_err(|err| {
        let at = err
            .positions()
            .next()
            .map(|p| format!(" (line {}, column {})", p.line, p.column))
            .unwrap_or_default();
        EdgeRefusal::bad_request(
            codes::GRAPHQL_PARSE_FAILED,
            format!("the query is not valid GraphQL{at}"),
        )
    })?;
    let no_variables = Variables::default();
    Walker {
        doc: &document,
        variables: &no_variables,
        max_page_size: limits.max_page_size,
        memo: HashMap::new(),
        page_error: None,
    }
    .find_cycle()?;

    let mut counts = Counts::default();
    for (_, op) in document.operations.iter() {
        count_directives(&op.node.directives, &mut counts);
        for var in &op.node.variable_definitions {
            count_directives(&var.node.directives, &mut counts);
        }
        counts.visit(&op.node.selection_set.node);
    }
    for fragment in document.fragments.values() {
        count_directives(&fragment.node.directives, &mut counts);
        counts.visit(&fragment.node.selection_set.node);
    }
    if counts.directives > limits.max_directives {
        return Err(EdgeRefusal::bad_request(
            codes::TOO_MANY_DIRECTIVES,
            format!(
                "the query has more than {} directives",
                limits.max_directives
            ),
        ));
    }
    if counts.aliases > limits.max_aliases {
        return Err(EdgeRefusal::bad_request(
            codes::TOO_MANY_ALIASES,
            format!(
                "the query has more than {} aliases or repeated fields",
                limits.max_aliases
            ),
        ));
    }
    Ok(document)
}

/// The checks that depend on the variables (`first`/`last` page sizes and list multipliers),
/// run on every request: root fields, page sizes, depth and cost of each operation. Returns the
/// type of the operation that will run.
pub fn check_operation(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    limits: &OperationLimits,
) -> Result<Option<OperationType>, EdgeRefusal> {
    let mut walker = Walker {
        doc: document,
        variables,
        max_page_size: limits.max_page_size,
        memo: HashMap::new(),
        page_error: None,
    };
    for (_, op) in document.operations.iter() {
        let set = &op.node.selection_set.node;
        if walker.root_fields(set) > limits.max_root_fields {
            return Err(EdgeRefusal::bad_request(
                codes::TOO_MANY_ROOT_FIELDS,
                format!(
                    "the operation has more than {} root fields",
                    limits.max_root_fields
                ),
            ));
        }
        let shape = walker.selection_set(set);
        if let Some(err) = walker.page_error.take() {
            return Err(err);
        }
        if shape.depth > limits.max_depth {
            return Err(EdgeRefusal::bad_request(
                codes::QUERY_TOO_DEEP,
                format!("the query nests deeper than {} levels", limits.max_depth),
            ));
        }
        if shape.cost > limits.max_complexity {
            return Err(EdgeRefusal::bad_request(
                codes::QUERY_TOO_COMPLEX,
                format!(
                    "the query's estimated cost is above the limit of {}",
                    limits.max_complexity
                ),
            ));
        }
    }
    Ok(selected(document, operation_name).map(|op| op.ty))
}

fn selected<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Depth and cost of a selection set.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    depth: usize,
    cost: u64,
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    max_page_size: u64,
    memo: HashMap<&'a str, Shape>,
    page_error: Option<EdgeRefusal>,
}

impl<'a> Walker<'a> {
    /// Refuses fragments that spread each other in a cycle (depth-first search with colours).
    fn find_cycle(&self) -> Result<(), EdgeRefusal> {
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            Grey,
            Black,
        }
        fn spreads<'d>(set: &'d SelectionSet, out: &mut Vec<&'d str>) {
            for item in &set.items {
                match &item.node {
                    Selection::Field(f) => spreads(&f.node.selection_set.node, out),
                    Selection::FragmentSpread(s) => out.push(s.node.fragment_name.node.as_str()),
                    Selection::InlineFragment(i) => spreads(&i.node.selection_set.node, out),
                }
            }
        }
        fn visit<'d>(
            doc: &'d ExecutableDocument,
            name: &'d str,
            colours: &mut HashMap<&'d str, Colour>,
        ) -> bool {
            match colours.get(name) {
                Some(Colour::Grey) => return true,
                Some(Colour::Black) => return false,
                None => {}
            }
            let Some(fragment) = doc.fragments.get(name) else {
                return false;
            };
            colours.insert(name, Colour::Grey);
            let mut next = Vec::new();
            spreads(&fragment.node.selection_set.node, &mut next);
            if next.into_iter().any(|n| visit(doc, n, colours)) {
                return true;
            }
            colours.insert(name, Colour::Black);
            false
        }
        let mut colours = HashMap::new();
        for name in self.doc.fragments.keys() {
            if visit(self.doc, name.as_str(), &mut colours) {
                return Err(EdgeRefusal::bad_request(
                    codes::FRAGMENT_CYCLE,
                    "fragments spread each other in a cycle",
                ));
            }
        }
        Ok(())
    }

    fn root_fields(&self, set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(_) => 1,
                Selection::FragmentSpread(s) => self
                    .doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .map_or(0, |f| self.root_fields(&f.node.selection_set.node)),
                Selection::InlineFragment(i) => self.root_fields(&i.node.selection_set.node),
            })
            .sum()
    }

    fn selection_set(&mut self, set: &'a SelectionSet) -> Shape {
        let mut shape = Shape::default();
        for item in &set.items {
            let inner = match &item.node {
                Selection::Field(field) => {
                    let children = self.selection_set(&field.node.selection_set.node);
                    let multiplier = self.multiplier(&field.node.arguments);
                    // `ofType` only unwraps list and non-null wrappers of one type: GraphiQL's
                    // introspection nests it nine deep, and it cannot fan out, so it adds no depth
                    // (the token limit bounds a long chain).
                    let level = usize::from(field.node.name.node.as_str() != "ofType");
                    Shape {
                        depth: children.depth + level,
                        cost: children.cost.saturating_mul(multiplier).saturating_add(1),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.memo.get(name) {
                        Some(shape) => *shape,
                        None => match self.doc.fragments.get(name) {
                            Some(fragment) => {
                                let shape = self.selection_set(&fragment.node.selection_set.node);
                                self.memo.insert(name, shape);
                                shape
                            }
                            None => Shape::default(),
                        },
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set.node)
                }
            };
            shape.depth = shape.depth.max(inner.depth);
            shape.cost = shape.cost.saturating_add(inner.cost);
        }
        shape
    }

    /// The list multiplier of a field: its `first` (or `last`) argument, literal or variable.
    fn multiplier(&mut self, arguments: &[(Positioned<Name>, Positioned<Value>)]) -> u64 {
        let mut multiplier = 1;
        for (name, value) in arguments {
            if !matches!(name.node.as_str(), "first" | "last") {
                continue;
            }
            let n = match &value.node {
                Value::Number(n) => n.as_i64(),
                Value::Variable(var) => match self.variables.get(var) {
                    Some(async_graphql::Value::Number(n)) => n.as_i64(),
                    _ => None,
                },
                _ => None,
            };
            let Some(n) = n else { continue };
            let n = n.max(1) as u64;
            if n > self.max_page_size && self.page_error.is_none() {
                let field = if name.node.as_str() == "first" {
                    "first"
                } else {
                    "last"
                };
                let mut refusal = EdgeRefusal::bad_request(
                    codes::PAGE_SIZE_TOO_LARGE,
                    format!("`{field}` must be at most {}", self.max_page_size),
                );
                refusal.field = Some(field);
                self.page_error = Some(refusal);
            }
            multiplier = multiplier.max(n);
        }
        multiplier
    }
}

#[derive(Default)]
struct Counts {
    directives: usize,
    aliases: usize,
}

fn count_directives(
    directives: &[Positioned<async_graphql::parser::types::Directive>],
    counts: &mut Counts,
) {
    counts.directives += directives.len();
}

impl Counts {
    /// Counts directives and aliases in one literal selection set (fragments not expanded: each
    /// fragment definition is visited once by the caller).
    fn visit(&mut self, set: &SelectionSet) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    count_directives(&field.directives, self);
                    if field.alias.is_some() {
                        self.aliases += 1;
                    } else {
                        let n = seen.entry(field.name.node.as_str()).or_default();
                        if *n > 0 {
                            self.aliases += 1;
                        }
                        *n += 1;
                    }
                    self.visit(&field.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    count_directives(&spread.node.directives, self);
                }
                Selection::InlineFragment(inline) => {
                    count_directives(&inline.node.directives, self);
                    self.visit(&inline.node.selection_set.node);
                }
            }
        }
    }
}

/// Lexical tokens of a GraphQL text (punctuators, names, numbers, strings), counting stops just
/// above `max` so a huge text costs no more than the limit.
pub fn count_tokens(text: &str, max: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut tokens = 0;
    while i < bytes.len() && tokens <= max {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                tokens += 1;
                if bytes[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                tokens += 1;
                i += 3;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                tokens += 1;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'.' | b'+'))
                {
                    i += 1;
                }
            }
            _ => {
                tokens += 1;
                i += 1;
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::edge::config::{EdgeConfig, Profile};

    fn limits() -> OperationLimits {
        EdgeConfig::for_profile(Profile::Web, false).limits
    }

    fn code(query: &str) -> &'static str {
        match check(query, None, &Variables::default(), &limits()) {
            Ok(_) => "OK",
            Err(e) => e.code,
        }
    }

    #[test]
    fn tokens_are_counted() {
        assert_eq!(count_tokens("{ a(first: 10) { b } }", 100), 11);
        assert_eq!(count_tokens("query Q($x: Int = -1.5e3) { a }", 100), 13);
        assert_eq!(count_tokens("# only a comment\n", 100), 0);
        assert_eq!(count_tokens(r#"{ a(s: "x, y # z") ...F }"#, 100), 10);
    }

    #[test]
    fn a_legit_query_passes_and_attacks_are_refused() {
        assert_eq!(
            code("{ products(first: 20) { edges { node { id name } } } }"),
            "OK"
        );
        let deep = format!("{}x{}", "{ a ".repeat(12), " }".repeat(12));
        assert_eq!(code(&deep), codes::QUERY_TOO_DEEP);
        let aliases: String = (0..101).map(|i| format!("a{i}: id ")).collect();
        assert_eq!(code(&format!("{{ {aliases} }}")), codes::TOO_MANY_ALIASES);
        assert_eq!(
            code(&format!("{{ {} }}", "__typename ".repeat(500))),
            codes::TOO_MANY_ALIASES
        );
        assert_eq!(
            code("{ a ...A } fragment A on Q { ...B } fragment B on Q { ...A }"),
            codes::FRAGMENT_CYCLE
        );
        assert_eq!(
            code("{ a(first: 100) { b(first: 100) { c } } }"),
            codes::QUERY_TOO_COMPLEX
        );
        assert_eq!(
            code("{ a(first: 1000000) { b } }"),
            codes::PAGE_SIZE_TOO_LARGE
        );
        assert_eq!(code("{ a(first: "), codes::GRAPHQL_PARSE_FAILED);
    }

    #[test]
    fn fragment_bombs_are_linear() {
        let mut q = String::from("{ ...F0 }");
        for i in 0..30 {
            q.push_str(&format!(
                " fragment F{i} on Q {{ a: x {{ ...F{} }} b: x {{ ...F{} }} }}",
                i + 1,
                i + 1
            ));
        }
        q.push_str(" fragment F30 on Q { id }");
        let refused = check(
            &q,
            None,
            &Variables::default(),
            &OperationLimits {
                max_aliases: 1_000,
                max_tokens: 10_000,
                max_chars: 100_000,
                max_depth: 100,
                ..limits()
            },
        );
        assert_eq!(
            refused.err().map(|e| e.code),
            Some(codes::QUERY_TOO_COMPLEX)
        );
    }
}
