//! Failed nullable fields become `null`, as the GraphQL specification asks.
//!
//! async-graphql 7.2 drops the key of a failed field from its parent object (and makes the
//! parent `null` when every one of its fields failed), so a page could not tell "no reviews"
//! from "reviews unavailable". A schema extension can fix that per field, but any extension makes
//! async-graphql take its slow path for *every* field (a registry lookup, a `ResolveInfo` and a
//! boxed future each): measured at 8–15 % of a BFF's CPU per query. So the fix is applied once
//! per response instead, and only when it has errors: [`Nullability`] knows, from the schema's
//! SDL, which fields are nullable; [`Nullability::null_failed_fields`] follows each error's path
//! through the response (and the document, for aliases and fragments) and writes `null` where a
//! nullable field's key is missing. A failed non-null field stays absent, as async-graphql
//! leaves it.

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationType, Selection,
    SelectionSet, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, PathSegment, Response, Value};

/// What the response walk needs to know about one field of one type.
#[derive(Debug, Clone)]
struct FieldType {
    nullable: bool,
    /// The named type under any list wrappers.
    named: String,
}

/// The nullability of every field of a schema, read from its SDL.
#[derive(Debug, Default)]
pub struct Nullability {
    fields: HashMap<(String, String), FieldType>,
    query: String,
    mutation: String,
}

impl Nullability {
    /// Reads the object and interface fields of `sdl`; an SDL that does not parse gives an empty
    /// table (no field is then nulled: the response stays as async-graphql made it).
    pub fn from_sdl(sdl: &str) -> Self {
        let mut table = Self {
            fields: HashMap::new(),
            query: "Query".to_owned(),
            mutation: "Mutation".to_owned(),
        };
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            tracing::warn!("the schema SDL does not parse; failed fields stay absent");
            return table;
        };
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    if let Some(query) = &schema.node.query {
                        table.query = query.node.to_string();
                    }
                    if let Some(mutation) = &schema.node.mutation {
                        table.mutation = mutation.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let fields = match &ty.node.kind {
                        TypeKind::Object(object) => &object.fields,
                        TypeKind::Interface(interface) => &interface.fields,
                        _ => continue,
                    };
                    for field in fields {
                        let mut base = &field.node.ty.node;
                        while let BaseType::List(inner) = &base.base {
                            base = inner;
                        }
                        let named = match &base.base {
                            BaseType::Named(name) => name.to_string(),
                            BaseType::List(_) => continue,
                        };
                        table.fields.insert(
                            (
                                ty.node.name.node.to_string(),
                                field.node.name.node.to_string(),
                            ),
                            FieldType {
                                nullable: field.node.ty.node.nullable,
                                named,
                            },
                        );
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        table
    }

    /// Writes `null` for every failed nullable field that `response` lacks. `query` and
    /// `operation_name` are the request's (re-parsed only here, when there are errors).
    pub fn null_failed_fields(
        &self,
        response: &mut Response,
        query: &str,
        operation_name: Option<&str>,
    ) {
        // Errors without a path are request errors: nothing was executed.
        if response.errors.iter().all(|error| error.path.is_empty()) {
            return;
        }
        let Ok(document) = async_graphql::parser::parse_query(query) else {
            return;
        };
        let Some((kind, selection_set)) = operation(&document, operation_name) else {
            return;
        };
        let root = match kind {
            OperationType::Mutation => &self.mutation,
            _ => &self.query,
        };
        let paths: Vec<Vec<PathSegment>> = response
            .errors
            .iter()
            .filter(|error| !error.path.is_empty())
            .map(|error| error.path.clone())
            .collect();
        for path in paths {
            let walk = Walk {
                table: self,
                document: &document,
            };
            walk.null_missing(&mut response.data, root, vec![selection_set], &path);
        }
    }
}

/// The selection set and kind of the operation a request runs.
fn operation<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(OperationType, &'d SelectionSet)> {
    let op = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    Some((op.node.ty, &op.node.selection_set.node))
}

struct Walk<'a> {
    table: &'a Nullability,
    document: &'a ExecutableDocument,
}

impl<'a> Walk<'a> {
    /// Follows `path` from `value` (of type `ty`, selected by `selections`); where the next key
    /// is missing and its field is nullable, writes `null` and stops.
    fn null_missing(
        &self,
        value: &mut Value,
        ty: &str,
        selections: Vec<&'a SelectionSet>,
        path: &[PathSegment],
    ) {
        let Some((segment, rest)) = path.split_first() else {
            return;
        };
        match segment {
            PathSegment::Index(i) => {
                if let Value::List(items) = value
                    && let Some(item) = items.get_mut(*i)
                {
                    self.null_missing(item, ty, selections, rest);
                }
            }
            PathSegment::Field(key) => {
                let fields = self.fields_with_key(&selections, key);
                let Some(first) = fields.first() else {
                    return;
                };
                let Some(field_type) = self
                    .table
                    .fields
                    .get(&(ty.to_owned(), first.name.node.to_string()))
                else {
                    return;
                };
                let name = Name::new(key);
                if let Value::Object(object) = value
                    && let Some(child) = object.get_mut(&name)
                {
                    if !rest.is_empty() {
                        let next = fields.iter().map(|f| &f.selection_set.node).collect();
                        self.null_missing(child, &field_type.named, next, rest);
                    }
                    return;
                }
                // The key is missing: from an object, or from the `null` async-graphql makes of
                // an object whose fields all failed.
                if field_type.nullable {
                    match value {
                        Value::Object(object) => {
                            object.insert(name, Value::Null);
                        }
                        Value::Null => {
                            *value = Value::Object([(name, Value::Null)].into_iter().collect());
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Every field selected under `key` in `selections`, through fragments.
    fn fields_with_key(&self, selections: &[&'a SelectionSet], key: &str) -> Vec<&'a Field> {
        let mut found = Vec::new();
        let mut stack: Vec<&'a SelectionSet> = selections.to_vec();
        let mut depth = 0;
        while let Some(set) = stack.pop() {
            depth += 1;
            // Fragment cycles are refused before execution; this only bounds the walk.
            if depth > 10_000 {
                break;
            }
            for selection in &set.items {
                match &selection.node {
                    Selection::Field(field) => {
                        if field.node.response_key().node.as_str() == key {
                            found.push(&field.node);
                        }
                    }
                    Selection::InlineFragment(fragment) => {
                        stack.push(&fragment.node.selection_set.node);
                    }
                    Selection::FragmentSpread(spread) => {
                        if let Some(fragment) =
                            self.document.fragments.get(&spread.node.fragment_name.node)
                        {
                            stack.push(&fragment.node.selection_set.node);
                        }
                    }
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};

    use super::Nullability;
    use crate::error::BffError;

    struct Query;

    /// Test schema.
    #[Object]
    impl Query {
        /// Works.
        async fn ok(&self) -> i32 {
            1
        }
        /// Fails, nullable.
        async fn broken(&self) -> async_graphql::Result<Option<i32>> {
            Err(BffError::NotFound("thing".into()).into())
        }
        /// Fails, non-null.
        async fn required(&self) -> async_graphql::Result<i32> {
            Err(BffError::NotFound("thing".into()).into())
        }
        /// Nested.
        async fn nested(&self) -> Nested {
            Nested
        }
        /// A list of nested objects.
        async fn list(&self) -> Vec<Nested> {
            vec![Nested, Nested]
        }
        /// Plain data.
        async fn plain(&self) -> Plain {
            Plain { a: 1 }
        }
    }

    struct Nested;

    /// Nested object.
    #[Object]
    impl Nested {
        /// Fails, nullable.
        async fn broken(&self) -> async_graphql::Result<Option<Vec<i32>>> {
            Err(BffError::NotFound("list".into()).into())
        }
        /// Works.
        async fn fine(&self) -> i32 {
            2
        }
    }

    /// Plain object.
    #[derive(SimpleObject)]
    struct Plain {
        /// A number.
        a: i32,
    }

    async fn run(query: &str) -> serde_json::Value {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let table = Nullability::from_sdl(&schema.sdl());
        let mut response = schema.execute(query).await;
        table.null_failed_fields(&mut response, query, None);
        serde_json::to_value(&response).unwrap()
    }

    #[tokio::test]
    async fn a_failed_nullable_field_is_null_with_its_error() {
        let body = run("{ ok broken nested { broken } }").await;
        assert_eq!(
            body["data"],
            serde_json::json!({"ok": 1, "broken": null, "nested": {"broken": null}})
        );
        let paths: Vec<String> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].to_string())
            .collect();
        assert_eq!(paths, vec![r#"["broken"]"#, r#"["nested","broken"]"#]);
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    }

    #[tokio::test]
    async fn aliases_fragments_and_lists_are_followed() {
        let body = run(
            "query Q { ok first: nested { ...F } list { fine ... on Nested { b: broken } } } \
             fragment F on Nested { fine oops: broken }",
        )
        .await;
        let data = &body["data"];
        assert_eq!(data["first"], serde_json::json!({"fine": 2, "oops": null}));
        assert_eq!(
            data["list"],
            serde_json::json!([{"fine": 2, "b": null}, {"fine": 2, "b": null}])
        );
        assert_eq!(body["errors"].as_array().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_failed_non_null_field_stays_absent_and_clean_responses_are_untouched() {
        let body = run("{ ok required }").await;
        assert_eq!(body["data"], serde_json::json!({"ok": 1}));
        assert_eq!(body["errors"].as_array().unwrap().len(), 1);
        let body = run("{ ok plain { a } }").await;
        assert_eq!(
            body["data"],
            serde_json::json!({"ok": 1, "plain": {"a": 1}})
        );
        assert!(body.get("errors").is_none());
    }

    #[tokio::test]
    async fn a_root_whose_fields_all_failed_gets_its_nulls_unless_non_null() {
        let body = run("{ broken }").await;
        assert_eq!(body["data"], serde_json::json!({"broken": null}));
        let body = run("{ required }").await;
        assert_eq!(body["data"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn an_object_whose_fields_all_failed_gets_its_nulls() {
        let body = run("{ ok nested { broken } }").await;
        assert_eq!(
            body["data"],
            serde_json::json!({"ok": 1, "nested": {"broken": null}})
        );
    }
}
