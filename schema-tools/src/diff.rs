//! Schema diff: compares two SDL documents and classifies every change for the clients that
//! query them:
//!
//! - **breaking**: a valid operation of today may fail or change meaning: a type, field,
//!   argument, input field, enum value, union member, implemented interface, directive or root
//!   operation type removed; a type's kind changed; a field's type changed other than
//!   nullable → non-null; an argument's or input field's type changed other than
//!   non-null → nullable; a new required argument or input field (non-null, no default).
//! - **dangerous**: operations stay valid but clients may see what they do not expect: an enum
//!   value added, an argument's or input field's default changed, a union member or implemented
//!   interface added.
//! - **safe**: a type, field, optional argument, optional input field, directive or root type
//!   added; an output field made non-null; an input made nullable; a description or a
//!   deprecation changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use async_graphql::parser::types::{
    BaseType, ConstDirective, FieldDefinition, InputValueDefinition, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::parser::{Positioned, parse_schema};

/// How much a change can hurt a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Existing operations may fail.
    Breaking,
    /// Existing operations stay valid but may see new values or defaults.
    Dangerous,
    /// No client notices.
    Safe,
}

impl Severity {
    /// `breaking`, `dangerous` or `safe`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Breaking => "breaking",
            Severity::Dangerous => "dangerous",
            Severity::Safe => "safe",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One change between two schemas.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// How much it can hurt a client.
    pub severity: Severity,
    /// What changed: `Type`, `Type.field`, `Type.field(arg:)` or `@directive`.
    pub path: String,
    /// What happened, in words.
    pub message: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<9}  {}: {}", self.severity, self.path, self.message)
    }
}

/// Why a document could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("the {which} schema does not parse: {message}")]
    Parse {
        which: &'static str,
        message: String,
    },
}

/// Every change from `old` to `new` (SDL documents), breaking first, then by path.
pub fn diff(old: &str, new: &str) -> Result<Vec<Change>, DiffError> {
    let old = Model::parse(old).map_err(|message| DiffError::Parse {
        which: "old",
        message,
    })?;
    let new = Model::parse(new).map_err(|message| DiffError::Parse {
        which: "new",
        message,
    })?;
    let mut changes = Changes::default();
    compare(&old, &new, &mut changes);
    let mut changes = changes.0;
    changes.sort();
    Ok(changes)
}

/// True when any change is breaking.
pub fn has_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.severity == Severity::Breaking)
}

/// `2 breaking, 1 dangerous, 3 safe`.
pub fn summary(changes: &[Change]) -> String {
    let count = |s| changes.iter().filter(|c| c.severity == s).count();
    format!(
        "{} breaking, {} dangerous, {} safe",
        count(Severity::Breaking),
        count(Severity::Dangerous),
        count(Severity::Safe)
    )
}

#[derive(Default)]
struct Changes(Vec<Change>);

impl Changes {
    fn push(&mut self, severity: Severity, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Change {
            severity,
            path: path.into(),
            message: message.into(),
        });
    }
}

// ---- The comparable model of a schema -------------------------------------------------------

#[derive(Default)]
struct Model {
    types: BTreeMap<String, TypeModel>,
    roots: BTreeMap<&'static str, String>,
    directives: BTreeMap<String, DirectiveModel>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    Input,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::Object => "object type",
            Kind::Interface => "interface",
            Kind::Union => "union",
            Kind::Enum => "enum",
            Kind::Input => "input type",
        }
    }
}

struct TypeModel {
    kind: Kind,
    description: Option<String>,
    fields: BTreeMap<String, FieldModel>,
    inputs: BTreeMap<String, InputModel>,
    values: BTreeMap<String, Documented>,
    members: BTreeSet<String>,
    implements: BTreeSet<String>,
}

/// Description and deprecation of a field, argument or enum value.
#[derive(Clone, Default)]
struct Documented {
    description: Option<String>,
    deprecation: Option<String>,
}

struct FieldModel {
    ty: Type,
    doc: Documented,
    args: BTreeMap<String, InputModel>,
}

#[derive(Clone)]
struct InputModel {
    ty: Type,
    default: Option<String>,
    doc: Documented,
}

impl InputModel {
    fn required(&self) -> bool {
        !self.ty.nullable && self.default.is_none()
    }
}

struct DirectiveModel {
    args: BTreeMap<String, InputModel>,
    locations: BTreeSet<String>,
}

impl Model {
    fn parse(sdl: &str) -> Result<Self, String> {
        if sdl.trim().is_empty() {
            return Ok(Model::default()); // no schema yet: everything is added
        }
        let document = parse_schema(sdl).map_err(|err| err.to_string())?;
        let mut model = Model::default();
        let mut explicit_roots = false;
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    explicit_roots = true;
                    let schema = schema.node;
                    for (op, name) in [
                        ("query", schema.query),
                        ("mutation", schema.mutation),
                        ("subscription", schema.subscription),
                    ] {
                        if let Some(name) = name {
                            model.roots.insert(op, name.node.to_string());
                        }
                    }
                }
                TypeSystemDefinition::Directive(directive) => {
                    let directive = directive.node;
                    model.directives.insert(
                        directive.name.node.to_string(),
                        DirectiveModel {
                            args: inputs(&directive.arguments),
                            locations: directive
                                .locations
                                .iter()
                                .map(|l| format!("{:?}", l.node))
                                .collect(),
                        },
                    );
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let name = ty.name.node.to_string();
                    let (kind, fields, inputs_, values, members, implements) = match &ty.kind {
                        TypeKind::Scalar => (Kind::Scalar, vec![], vec![], vec![], vec![], vec![]),
                        TypeKind::Object(o) => (
                            Kind::Object,
                            o.fields.clone(),
                            vec![],
                            vec![],
                            vec![],
                            o.implements.clone(),
                        ),
                        TypeKind::Interface(i) => (
                            Kind::Interface,
                            i.fields.clone(),
                            vec![],
                            vec![],
                            vec![],
                            i.implements.clone(),
                        ),
                        TypeKind::Union(u) => (
                            Kind::Union,
                            vec![],
                            vec![],
                            vec![],
                            u.members.clone(),
                            vec![],
                        ),
                        TypeKind::Enum(e) => {
                            (Kind::Enum, vec![], vec![], e.values.clone(), vec![], vec![])
                        }
                        TypeKind::InputObject(i) => (
                            Kind::Input,
                            vec![],
                            i.fields.clone(),
                            vec![],
                            vec![],
                            vec![],
                        ),
                    };
                    let entry = model.types.entry(name).or_insert_with(|| TypeModel {
                        kind,
                        description: None,
                        fields: BTreeMap::new(),
                        inputs: BTreeMap::new(),
                        values: BTreeMap::new(),
                        members: BTreeSet::new(),
                        implements: BTreeSet::new(),
                    });
                    // `extend type` adds to the type it extends.
                    if !ty.extend {
                        entry.kind = kind;
                        entry.description = text(&ty.description);
                    }
                    entry.fields.extend(fields.iter().map(|f| field(&f.node)));
                    entry.inputs.extend(inputs(&inputs_));
                    entry.values.extend(values.iter().map(|v| {
                        (
                            v.node.value.node.to_string(),
                            Documented {
                                description: text(&v.node.description),
                                deprecation: deprecation(&v.node.directives),
                            },
                        )
                    }));
                    entry
                        .members
                        .extend(members.iter().map(|m| m.node.to_string()));
                    entry
                        .implements
                        .extend(implements.iter().map(|m| m.node.to_string()));
                }
            }
        }
        if !explicit_roots {
            for (op, name) in [
                ("query", "Query"),
                ("mutation", "Mutation"),
                ("subscription", "Subscription"),
            ] {
                if model.types.contains_key(name) {
                    model.roots.insert(op, name.to_owned());
                }
            }
        }
        Ok(model)
    }
}

fn text(description: &Option<Positioned<String>>) -> Option<String> {
    description.as_ref().map(|d| d.node.trim().to_owned())
}

fn deprecation(directives: &[Positioned<ConstDirective>]) -> Option<String> {
    directives
        .iter()
        .find(|d| d.node.name.node == "deprecated")
        .map(|d| {
            d.node
                .get_argument("reason")
                .map(|reason| reason.node.to_string())
                .unwrap_or_default()
        })
}

fn field(field: &FieldDefinition) -> (String, FieldModel) {
    (
        field.name.node.to_string(),
        FieldModel {
            ty: field.ty.node.clone(),
            doc: Documented {
                description: text(&field.description),
                deprecation: deprecation(&field.directives),
            },
            args: inputs(&field.arguments),
        },
    )
}

fn inputs(values: &[Positioned<InputValueDefinition>]) -> BTreeMap<String, InputModel> {
    values
        .iter()
        .map(|v| {
            let v = &v.node;
            (
                v.name.node.to_string(),
                InputModel {
                    ty: v.ty.node.clone(),
                    default: v.default_value.as_ref().map(|d| d.node.to_string()),
                    doc: Documented {
                        description: text(&v.description),
                        deprecation: deprecation(&v.directives),
                    },
                },
            )
        })
        .collect()
}

// ---- Comparison ------------------------------------------------------------------------------

fn compare(old: &Model, new: &Model, out: &mut Changes) {
    for op in ["query", "mutation", "subscription"] {
        match (old.roots.get(op), new.roots.get(op)) {
            (Some(a), Some(b)) if a != b => out.push(
                Severity::Breaking,
                "schema",
                format!("{op} root type changed from {a} to {b}"),
            ),
            (Some(a), None) => out.push(
                Severity::Breaking,
                "schema",
                format!("{op} root type {a} removed"),
            ),
            (None, Some(b)) => {
                out.push(
                    Severity::Safe,
                    "schema",
                    format!("{op} root type {b} added"),
                );
            }
            _ => {}
        }
    }

    for (name, old_ty) in &old.types {
        let Some(new_ty) = new.types.get(name) else {
            out.push(
                Severity::Breaking,
                name,
                format!("{} removed", old_ty.kind.as_str()),
            );
            continue;
        };
        compare_type(name, old_ty, new_ty, out);
    }
    for (name, new_ty) in &new.types {
        if !old.types.contains_key(name) {
            out.push(
                Severity::Safe,
                name,
                format!("{} added", new_ty.kind.as_str()),
            );
        }
    }

    for (name, old_d) in &old.directives {
        let path = format!("@{name}");
        let Some(new_d) = new.directives.get(name) else {
            out.push(Severity::Breaking, path, "directive removed");
            continue;
        };
        for location in old_d.locations.difference(&new_d.locations) {
            out.push(
                Severity::Breaking,
                &path,
                format!("location {location} removed"),
            );
        }
        for location in new_d.locations.difference(&old_d.locations) {
            out.push(Severity::Safe, &path, format!("location {location} added"));
        }
        compare_inputs(&path, "argument", &old_d.args, &new_d.args, out);
    }
    for name in new.directives.keys() {
        if !old.directives.contains_key(name) {
            out.push(Severity::Safe, format!("@{name}"), "directive added");
        }
    }
}

fn compare_type(name: &str, old: &TypeModel, new: &TypeModel, out: &mut Changes) {
    if old.kind != new.kind {
        out.push(
            Severity::Breaking,
            name,
            format!(
                "changed from {} to {}",
                old.kind.as_str(),
                new.kind.as_str()
            ),
        );
        return;
    }
    compare_description(name, &old.description, &new.description, out);

    for (field_name, old_f) in &old.fields {
        let path = format!("{name}.{field_name}");
        let Some(new_f) = new.fields.get(field_name) else {
            out.push(Severity::Breaking, path, "field removed");
            continue;
        };
        if !output_change_safe(&old_f.ty, &new_f.ty) {
            out.push(
                Severity::Breaking,
                &path,
                format!("type changed from {} to {}", old_f.ty, new_f.ty),
            );
        } else if old_f.ty != new_f.ty {
            out.push(
                Severity::Safe,
                &path,
                format!(
                    "type changed from {} to {} (now non-null)",
                    old_f.ty, new_f.ty
                ),
            );
        }
        compare_doc(&path, &old_f.doc, &new_f.doc, out);
        compare_inputs(&path, "argument", &old_f.args, &new_f.args, out);
    }
    for field_name in new.fields.keys() {
        if !old.fields.contains_key(field_name) {
            out.push(
                Severity::Safe,
                format!("{name}.{field_name}"),
                "field added",
            );
        }
    }

    compare_inputs(name, "input field", &old.inputs, &new.inputs, out);

    for (value, old_v) in &old.values {
        let path = format!("{name}.{value}");
        match new.values.get(value) {
            None => out.push(Severity::Breaking, path, "enum value removed"),
            Some(new_v) => compare_doc(&path, old_v, new_v, out),
        }
    }
    for value in new.values.keys() {
        if !old.values.contains_key(value) {
            out.push(
                Severity::Dangerous,
                format!("{name}.{value}"),
                "enum value added (clients that switch over the values may not handle it)",
            );
        }
    }

    for member in old.members.difference(&new.members) {
        out.push(
            Severity::Breaking,
            name,
            format!("union member {member} removed"),
        );
    }
    for member in new.members.difference(&old.members) {
        out.push(
            Severity::Dangerous,
            name,
            format!("union member {member} added (clients may not handle the new type)"),
        );
    }
    for interface in old.implements.difference(&new.implements) {
        out.push(
            Severity::Breaking,
            name,
            format!("no longer implements {interface}"),
        );
    }
    for interface in new.implements.difference(&old.implements) {
        out.push(
            Severity::Dangerous,
            name,
            format!("now implements {interface}"),
        );
    }
}

/// Arguments of a field or directive, or fields of an input type (`what` names which).
fn compare_inputs(
    owner: &str,
    what: &str,
    old: &BTreeMap<String, InputModel>,
    new: &BTreeMap<String, InputModel>,
    out: &mut Changes,
) {
    let path = |name: &str| {
        if what == "argument" {
            format!("{owner}({name}:)")
        } else {
            format!("{owner}.{name}")
        }
    };
    for (name, old_i) in old {
        let path = path(name);
        let Some(new_i) = new.get(name) else {
            out.push(Severity::Breaking, path, format!("{what} removed"));
            continue;
        };
        if !input_change_safe(&old_i.ty, &new_i.ty) {
            out.push(
                Severity::Breaking,
                &path,
                format!("{what} type changed from {} to {}", old_i.ty, new_i.ty),
            );
        } else if old_i.ty != new_i.ty {
            out.push(
                Severity::Safe,
                &path,
                format!(
                    "{what} type changed from {} to {} (now nullable)",
                    old_i.ty, new_i.ty
                ),
            );
        }
        if new_i.required() && !old_i.required() && input_change_safe(&old_i.ty, &new_i.ty) {
            // Same type but the default was dropped from a non-null input.
            out.push(
                Severity::Breaking,
                &path,
                format!("{what} made required (its default was removed)"),
            );
        } else if old_i.default != new_i.default && new_i.default.is_some() {
            out.push(
                Severity::Dangerous,
                &path,
                format!(
                    "default changed from {} to {}",
                    old_i.default.as_deref().unwrap_or("none"),
                    new_i.default.as_deref().unwrap_or("none")
                ),
            );
        } else if old_i.default.is_some() && new_i.default.is_none() {
            out.push(
                Severity::Dangerous,
                &path,
                format!(
                    "default {} removed",
                    old_i.default.as_deref().unwrap_or_default()
                ),
            );
        }
        compare_doc(&path, &old_i.doc, &new_i.doc, out);
    }
    for (name, new_i) in new {
        if old.contains_key(name) {
            continue;
        }
        if new_i.required() {
            out.push(
                Severity::Breaking,
                path(name),
                format!("required {what} added (type {})", new_i.ty),
            );
        } else {
            out.push(Severity::Safe, path(name), format!("optional {what} added"));
        }
    }
}

fn compare_doc(path: &str, old: &Documented, new: &Documented, out: &mut Changes) {
    compare_description(path, &old.description, &new.description, out);
    match (&old.deprecation, &new.deprecation) {
        (None, Some(reason)) => out.push(
            Severity::Safe,
            path,
            format!("deprecated ({})", reason_text(reason)),
        ),
        (Some(_), None) => out.push(Severity::Safe, path, "no longer deprecated"),
        (Some(a), Some(b)) if a != b => out.push(
            Severity::Safe,
            path,
            format!("deprecation reason changed to {}", reason_text(b)),
        ),
        _ => {}
    }
}

fn reason_text(reason: &str) -> &str {
    if reason.is_empty() {
        "no reason"
    } else {
        reason
    }
}

fn compare_description(path: &str, old: &Option<String>, new: &Option<String>, out: &mut Changes) {
    let message = match (old, new) {
        (None, Some(_)) => "description added",
        (Some(_), None) => "description removed",
        (Some(a), Some(b)) if a != b => "description changed",
        _ => return,
    };
    out.push(Severity::Safe, path, message);
}

/// An output type may only get stricter: nullable → non-null, at any list depth.
fn output_change_safe(old: &Type, new: &Type) -> bool {
    if !old.nullable && new.nullable {
        return false;
    }
    match (&old.base, &new.base) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => output_change_safe(a, b),
        _ => false,
    }
}

/// An input type may only get looser: non-null → nullable, at any list depth.
fn input_change_safe(old: &Type, new: &Type) -> bool {
    if old.nullable && !new.nullable {
        return false;
    }
    match (&old.base, &new.base) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => input_change_safe(a, b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const OLD: &str = r#"
"The root."
type Query {
  "A product."
  product(id: ID!, currency: String = "EUR"): Product
  "Products."
  products(first: Int = 20, search: String): [Product!]!
  "Orders."
  orders(status: OrderStatus): [Order!]!
  "Gone soon."
  legacy: String
}

type Mutation {
  placeOrder(input: PlaceOrderInput!): Order!
}

"A product."
type Product implements Node {
  id: ID!
  name: String
  price: Money!
  tags: [String!]
}

interface Node { id: ID! }

type Order implements Node { id: ID! status: OrderStatus! }

type Money { amount: Int! formatted: String! }

enum OrderStatus { PENDING PAID SHIPPED }

union SearchResult = Product | Order

input PlaceOrderInput {
  productId: ID!
  quantity: Int = 1
  note: String
}

type Unused { a: Int }
"#;

    fn changes(new: &str) -> Vec<Change> {
        diff(OLD, new).unwrap()
    }

    fn find<'a>(changes: &'a [Change], path: &str, needle: &str) -> &'a Change {
        changes
            .iter()
            .find(|c| c.path == path && c.message.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "no change at {path} with {needle:?} in:\n{}",
                    changes
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })
    }

    #[test]
    fn the_same_schema_has_no_changes() {
        assert_eq!(changes(OLD), vec![]);
        assert!(!has_breaking(&changes(OLD)));
    }

    #[test]
    fn removals_and_incompatible_type_changes_are_breaking() {
        let new = OLD
            .replace("  \"Gone soon.\"\n  legacy: String\n", "") // field removed
            .replace("type Unused { a: Int }", "") // type removed
            .replace("PENDING PAID SHIPPED", "PENDING PAID") // enum value removed
            .replace(
                "product(id: ID!, currency: String = \"EUR\")",
                "product(id: ID!)",
            ) // arg removed
            .replace("price: Money!", "price: Money") // non-null output made nullable
            .replace("name: String", "name: Int") // output type changed
            .replace(
                "orders(status: OrderStatus)",
                "orders(status: OrderStatus!)",
            ) // input made non-null
            .replace("search: String)", "search: String, category: String!)") // new required arg
            .replace(
                "quantity: Int = 1",
                "quantity: Int = 1\n  giftWrap: Boolean!",
            ) // new required input field
            .replace("Product | Order", "Product") // union member removed
            .replace("type Order implements Node", "type Order"); // interface removed
        let changes = changes(&new);
        for (path, needle) in [
            ("Query.legacy", "field removed"),
            ("Unused", "object type removed"),
            ("OrderStatus.SHIPPED", "enum value removed"),
            ("Query.product(currency:)", "argument removed"),
            ("Product.price", "from Money! to Money"),
            ("Product.name", "from String to Int"),
            ("Query.orders(status:)", "from OrderStatus to OrderStatus!"),
            ("Query.products(category:)", "required argument added"),
            ("PlaceOrderInput.giftWrap", "required input field added"),
            ("SearchResult", "union member Order removed"),
            ("Order", "no longer implements Node"),
        ] {
            assert_eq!(find(&changes, path, needle).severity, Severity::Breaking);
        }
        assert!(has_breaking(&changes));
        assert_eq!(changes[0].severity, Severity::Breaking, "breaking first");
    }

    #[test]
    fn an_input_field_made_required_is_breaking() {
        let new = OLD.replace("  note: String\n", "  note: String!\n");
        let changes = changes(&new);
        assert_eq!(
            find(&changes, "PlaceOrderInput.note", "from String to String!").severity,
            Severity::Breaking
        );
        // Dropping the default of a non-null input makes it required too.
        let old = "type Query { a(x: Int! = 1): Int }";
        let changes = diff(old, "type Query { a(x: Int!): Int }").unwrap();
        assert_eq!(
            find(&changes, "Query.a(x:)", "made required").severity,
            Severity::Breaking
        );
    }

    #[test]
    fn new_enum_values_changed_defaults_and_union_members_are_dangerous() {
        let new = OLD
            .replace("PENDING PAID SHIPPED", "PENDING PAID SHIPPED CANCELLED")
            .replace("first: Int = 20", "first: Int = 50")
            .replace("quantity: Int = 1", "quantity: Int = 2")
            .replace("Product | Order", "Product | Order | Money");
        let changes = changes(&new);
        for (path, needle) in [
            ("OrderStatus.CANCELLED", "enum value added"),
            ("Query.products(first:)", "default changed from 20 to 50"),
            ("PlaceOrderInput.quantity", "default changed from 1 to 2"),
            ("SearchResult", "union member Money added"),
        ] {
            assert_eq!(find(&changes, path, needle).severity, Severity::Dangerous);
        }
        assert!(!has_breaking(&changes));
    }

    #[test]
    fn additions_descriptions_and_looser_types_are_safe() {
        let new = OLD
            .replace(
                "type Unused { a: Int }",
                "type Unused { a: Int }\ntype Review { rating: Int! }",
            )
            .replace(
                "  tags: [String!]\n",
                "  tags: [String!]\n  rating: Float\n",
            )
            .replace("search: String)", "search: String, inStock: Boolean)")
            .replace(
                "\"A product.\"\n  product",
                "\"One product by id.\"\n  product",
            )
            .replace("name: String", "name: String!")
            .replace(
                "placeOrder(input: PlaceOrderInput!)",
                "placeOrder(input: PlaceOrderInput)",
            )
            .replace("  note: String\n", "  note: String\n  coupon: String\n")
            .replace(
                "  legacy: String",
                "  legacy: String @deprecated(reason: \"use products\")",
            );
        let changes = changes(&new);
        for (path, needle) in [
            ("Review", "object type added"),
            ("Product.rating", "field added"),
            ("Query.products(inStock:)", "optional argument added"),
            ("Query.product", "description changed"),
            ("Product.name", "now non-null"),
            ("Mutation.placeOrder(input:)", "now nullable"),
            ("PlaceOrderInput.coupon", "optional input field added"),
            ("Query.legacy", "deprecated"),
        ] {
            assert_eq!(find(&changes, path, needle).severity, Severity::Safe);
        }
        assert!(
            changes.iter().all(|c| c.severity == Severity::Safe),
            "{changes:?}"
        );
        assert_eq!(
            summary(&changes),
            format!("0 breaking, 0 dangerous, {} safe", changes.len())
        );
    }

    #[test]
    fn list_nullability_follows_the_same_direction_rules() {
        let out = |old: &str, new: &str| diff(old, new).unwrap();
        // Output: [String] -> [String!]! is stricter, safe; the reverse is breaking.
        let safe = out("type Query { a: [String] }", "type Query { a: [String!]! }");
        assert_eq!(safe[0].severity, Severity::Safe);
        let breaking = out(
            "type Query { a: [String!]! }",
            "type Query { a: [String!] }",
        );
        assert_eq!(breaking[0].severity, Severity::Breaking);
        let breaking = out("type Query { a: [String] }", "type Query { a: String }");
        assert_eq!(breaking[0].severity, Severity::Breaking);
        // Input: [Int!] -> [Int] is looser, safe; [Int] -> [Int!] is breaking.
        let safe = out(
            "type Query { a(x: [Int!]): Int }",
            "type Query { a(x: [Int]): Int }",
        );
        assert_eq!(safe[0].severity, Severity::Safe);
        let breaking = out(
            "type Query { a(x: [Int]): Int }",
            "type Query { a(x: [Int!]): Int }",
        );
        assert_eq!(breaking[0].severity, Severity::Breaking);
    }

    #[test]
    fn a_changed_kind_or_root_is_breaking_and_bad_sdl_is_an_error() {
        let changes = diff(
            "type Query { a: X } type X { b: Int }",
            "type Query { a: X } interface X { b: Int }",
        )
        .unwrap();
        assert_eq!(
            find(&changes, "X", "changed from object type to interface").severity,
            Severity::Breaking
        );
        let changes = diff(
            "type Query { a: Int } type Mutation { b: Int }",
            "type Query { a: Int }",
        )
        .unwrap();
        assert_eq!(
            find(&changes, "schema", "mutation root type Mutation removed").severity,
            Severity::Breaking
        );
        let err = diff("type Query { a: Int }", "type Query {").unwrap_err();
        assert!(err.to_string().contains("new schema"), "{err}");
    }

    #[test]
    fn each_change_prints_on_one_line() {
        let changes = diff("type Query { a: Int b: Int }", "type Query { a: Int }").unwrap();
        assert_eq!(changes[0].to_string(), "breaking   Query.b: field removed");
    }
}
