//! Introspection for admins only outside dev mode: a schema extension that, once the document is
//! parsed, refuses any document selecting `__schema` or `__type` unless the request's
//! [`Auth`] is an admin viewer (UNAUTHENTICATED / FORBIDDEN, as for every root field).
//! `__typename` stays allowed. The schema installs it only when `dev_mode` is off.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Pos, ServerResult, Variables};
use shared::auth::Auth;

/// The extension factory: add it to the schema builder.
pub struct AdminOnlyIntrospection;

impl ExtensionFactory for AdminOnlyIntrospection {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AdminOnlyIntrospectionExtension)
    }
}

struct AdminOnlyIntrospectionExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for AdminOnlyIntrospectionExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(pos) = introspection_position(&document) {
            let auth = ctx.data_opt::<Auth>().copied().unwrap_or(Auth::Anonymous);
            if let Err(err) = auth.admin() {
                return Err(async_graphql::Error::from(err).into_server_error(pos));
            }
        }
        Ok(document)
    }
}

/// Where the document first selects `__schema` or `__type`, if it does.
pub fn introspection_position(document: &ExecutableDocument) -> Option<Pos> {
    document
        .operations
        .iter()
        .find_map(|(_, op)| find_in(&op.node.selection_set.node))
        .or_else(|| {
            document
                .fragments
                .values()
                .find_map(|fragment| find_in(&fragment.node.selection_set.node))
        })
}

fn find_in(set: &SelectionSet) -> Option<Pos> {
    set.items
        .iter()
        .find_map(|selection| match &selection.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                if name == "__schema" || name == "__type" {
                    Some(field.pos)
                } else {
                    find_in(&field.node.selection_set.node)
                }
            }
            Selection::InlineFragment(fragment) => find_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => None,
        })
}
