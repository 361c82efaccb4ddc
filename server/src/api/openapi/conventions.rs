//! What operations of a kind share, added to every one of them, and what
//! the schemas derived from Rust types leave unsaid.

use utoipa::Modify;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Responses;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, KnownFormat, SchemaFormat, SchemaType,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Object, OpenApi, Ref, RefOr, ResponseBuilder, Schema, Type, content::ContentBuilder,
};

/// - the bearer scheme; 401 and 403 on the authenticated operations;
/// - 400, 413 and 415 on those with a JSON body, 400 on those with
///   parameters;
/// - the opaque 500 on all;
/// - a parameter's schema never admits `null` (absent is how a query
///   string or a header says "none");
/// - every integer schema states the range of its Rust type, which its
///   `format` implies but generators and validators do not read.
pub struct Conventions;

impl Modify for Conventions {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access token from /api/v1/auth/login or /refresh"))
                    .build(),
            ),
        );
        for (.., op) in operations(api) {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let json_body = op
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.contains_key("application/json"));
            let has_parameters = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            for p in op.parameters.iter_mut().flatten() {
                if let Some(schema) = &mut p.schema {
                    not_null(schema);
                }
            }
            let responses = &mut op.responses;
            if secured {
                shared(
                    responses,
                    "401",
                    "No, an invalid or an expired access token (`unauthenticated`, `token_expired`)",
                );
                shared(
                    responses,
                    "403",
                    "The role may not do this (`forbidden`), or the device is revoked (`device_revoked`)",
                );
            }
            if json_body {
                shared(
                    responses,
                    "400",
                    "`invalid_json`: the body is not a JSON object of this shape",
                );
                shared(responses, "413", "`invalid_json`: the body is over 1 MiB");
                shared(
                    responses,
                    "415",
                    "`invalid_json`: the body is not sent as `Content-Type: application/json`",
                );
            }
            if has_parameters {
                shared(
                    responses,
                    "400",
                    "A parameter outside its schema (`invalid_query`, `invalid_path`, or the header's own code)",
                );
            }
            shared(
                responses,
                "500",
                "Internal error; the message holds an incident id",
            );
        }
        each_schema(api, &mut integer_range);
    }
}

/// Every operation of `api`, with its path and method.
pub fn operations(api: &mut OpenApi) -> impl Iterator<Item = (&str, &'static str, &mut Operation)> {
    api.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("OPTIONS", &mut item.options),
            ("HEAD", &mut item.head),
            ("PATCH", &mut item.patch),
            ("TRACE", &mut item.trace),
        ]
        .into_iter()
        .filter_map(move |(method, op)| Some((path.as_str(), method, op.as_mut()?)))
    })
}

/// Documents an error response that operations of a kind share: as its own
/// response, or added to the description of the operation's own one for
/// that status.
pub fn shared(responses: &mut Responses, status: &str, description: &str) {
    let responses = &mut responses.responses;
    if let Some(own) = responses.get_mut(status) {
        if let RefOr::T(own) = own {
            own.description = format!("{}; {description}", own.description);
        }
        return;
    }
    let error = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    responses.insert(status.into(), RefOr::T(error));
}

/// `[T, "null"]` → `T`; `oneOf: [null, S]` → `S`.
fn not_null(schema: &mut RefOr<Schema>) {
    let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
    match schema {
        RefOr::T(Schema::Object(object)) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let mut types: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                object.schema_type = match types.len() {
                    1 => SchemaType::Type(types.remove(0)),
                    _ => SchemaType::Array(types),
                };
            }
        }
        RefOr::T(Schema::OneOf(one)) => {
            one.items.retain(|s| !is_null(s));
            if one.items.len() == 1 {
                *schema = one.items.remove(0);
            }
        }
        _ => {}
    }
}

/// Gives an integer schema the range its format names, where it states
/// none of its own.
fn integer_range(schema: &mut Object) {
    let Some(SchemaFormat::KnownFormat(format)) = &schema.format else {
        return;
    };
    let (min, max) = match format {
        KnownFormat::Int8 => (i64::from(i8::MIN).into(), i8::MAX.into()),
        KnownFormat::Int16 => (i16::MIN.into(), i16::MAX.into()),
        KnownFormat::Int32 => (i32::MIN.into(), i32::MAX.into()),
        KnownFormat::Int64 => (i64::MIN.into(), i64::MAX.into()),
        KnownFormat::UInt8 => (0u8.into(), u8::MAX.into()),
        KnownFormat::UInt16 => (0u8.into(), u16::MAX.into()),
        KnownFormat::UInt32 => (0u8.into(), u32::MAX.into()),
        KnownFormat::UInt64 => (0u8.into(), u64::MAX.into()),
        _ => return,
    };
    schema.minimum.get_or_insert(min);
    schema.maximum.get_or_insert(max);
}

/// Calls `f` on every object schema written out in `api`: the components
/// and the schemas of parameters, bodies and responses, nested ones
/// included.
pub fn each_schema(api: &mut OpenApi, f: &mut impl FnMut(&mut Object)) {
    if let Some(components) = &mut api.components {
        for schema in components.schemas.values_mut() {
            visit(schema, f);
        }
    }
    for (.., op) in operations(api) {
        for p in op.parameters.iter_mut().flatten() {
            if let Some(schema) = &mut p.schema {
                visit(schema, f);
            }
        }
        let bodies = op
            .request_body
            .iter_mut()
            .flat_map(|b| b.content.values_mut());
        let answers = op.responses.responses.values_mut().flat_map(|r| match r {
            RefOr::T(r) => Some(r.content.values_mut()),
            RefOr::Ref(_) => None,
        });
        for content in bodies.chain(answers.flatten()) {
            if let Some(schema) = &mut content.schema {
                visit(schema, f);
            }
        }
    }
}

fn visit(schema: &mut RefOr<Schema>, f: &mut impl FnMut(&mut Object)) {
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(object) => {
            f(object);
            for property in object.properties.values_mut() {
                visit(property, f);
            }
            if let Some(extra) = &mut object.additional_properties
                && let AdditionalProperties::RefOr(extra) = extra.as_mut()
            {
                visit(extra, f);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                visit(items, f);
            }
        }
        Schema::AllOf(all) => all.items.iter_mut().for_each(|s| visit(s, f)),
        Schema::OneOf(one) => one.items.iter_mut().for_each(|s| visit(s, f)),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(|s| visit(s, f)),
        _ => {}
    }
}
