//! JSON schemas of field rules, for the server's OpenAPI spec (feature
//! `openapi`). A rule is a marker type the spec names a field's schema by
//! (`#[schema(value_type = LocalTime)]`), declared with
//! [`schema_rule!`](crate::schema_rule) beside the check it describes, so the
//! two are read and changed together.

pub use utoipa;
use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};

/// A string schema: `min..=max` characters where given, matching `pattern`
/// where given, of `format` where given.
pub fn string_schema(
    description: &str,
    length: Option<(usize, usize)>,
    pattern: Option<String>,
    format: Option<KnownFormat>,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(length.map(|(min, _)| min))
        .max_length(length.map(|(_, max)| max))
        .pattern(pattern)
        .format(format.map(SchemaFormat::KnownFormat))
        .into()
}

/// A number schema of `min..=max`.
pub fn number_schema(description: &str, (min, max): (f64, f64)) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
        .description(Some(description))
        .minimum(Some(min))
        .maximum(Some(max))
        .into()
}

/// Declares a field rule: a marker type whose schema (a component named
/// after it) is `$schema`.
#[macro_export]
macro_rules! schema_rule {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::openapi::utoipa::PartialSchema for $name {
            fn schema() -> $crate::openapi::utoipa::openapi::RefOr<
                $crate::openapi::utoipa::openapi::Schema,
            > {
                $schema
            }
        }

        impl $crate::openapi::utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}
