//! SDL export and checks: the committed `schema/*.graphql` must equal what the code exports, and
//! every type, field, argument and enum value must carry a description.

use async_graphql::parser::types::{ServiceDocument, TypeKind, TypeSystemDefinition};

/// Descriptions missing from an SDL document, as `Type` or `Type.field` names.
pub fn missing_descriptions(sdl: &str) -> Result<Vec<String>, String> {
    let doc: ServiceDocument =
        async_graphql::parser::parse_schema(sdl).map_err(|err| err.to_string())?;
    let mut missing = Vec::new();
    for definition in &doc.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if ty.description.is_none() {
            missing.push(name.to_owned());
        }
        match &ty.kind {
            TypeKind::Object(object) => {
                for field in &object.fields {
                    check_field(name, &field.node, &mut missing);
                }
            }
            TypeKind::Interface(interface) => {
                for field in &interface.fields {
                    check_field(name, &field.node, &mut missing);
                }
            }
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    if field.node.description.is_none() {
                        missing.push(format!("{name}.{}", field.node.name.node));
                    }
                }
            }
            TypeKind::Enum(e) => {
                for value in &e.values {
                    if value.node.description.is_none() {
                        missing.push(format!("{name}.{}", value.node.value.node));
                    }
                }
            }
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
    }
    Ok(missing)
}

fn check_field(
    type_name: &str,
    field: &async_graphql::parser::types::FieldDefinition,
    missing: &mut Vec<String>,
) {
    let field_name = field.name.node.as_str();
    if field.description.is_none() {
        missing.push(format!("{type_name}.{field_name}"));
    }
    for arg in &field.arguments {
        if arg.node.description.is_none() {
            missing.push(format!("{type_name}.{field_name}({})", arg.node.name.node));
        }
    }
}

/// Compares `sdl` with the committed file at `path`; with `UPDATE_SCHEMA=1` writes it instead.
/// Returns an error message naming the command to run when they differ.
pub fn check_committed(sdl: &str, path: &std::path::Path) -> Result<(), String> {
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(path, sdl).map_err(|err| format!("writing {}: {err}", path.display()))?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed == sdl {
        Ok(())
    } else {
        Err(format!(
            "{} is stale: regenerate it with `UPDATE_SCHEMA=1 cargo test --workspace sdl` and commit it",
            path.display()
        ))
    }
}
