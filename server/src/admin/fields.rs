//! The rules of the fields the administration and login take, each written
//! twice side by side: as the check the server runs, and as the schema the
//! OpenAPI spec gives the field (`#[schema(value_type = Text)]`), so a
//! client can know beforehand what will be refused. Lengths count
//! characters, as JSON Schema does.

use fieldsync_proto::openapi::string_schema;
use fieldsync_proto::schema_rule;

use super::AdminError;

/// Longest name or label the administration accepts, in characters.
pub const MAX_TEXT: usize = 200;
/// Longest id (team, grid, post, building, unit) and username.
pub const MAX_ID: usize = 64;
/// Shortest and longest password.
pub const PASSWORD: (usize, usize) = (8, 200);

/// `char::is_control` (Unicode Cc) as the body of a regex class.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// `char::is_whitespace` (Unicode White_Space) less the controls among
/// it, as the body of a regex class (spelled out: `\s` differs between
/// regex dialects).
const SPACE: &str = r" \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Checks an id taken from a request (team, grid, post, building, unit):
/// 1–64 ASCII letters, digits, `-` or `_`. The rule of [`Id`].
pub fn check_id(field: &str, value: &str) -> Result<(), AdminError> {
    let ok = (1..=MAX_ID).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AdminError::invalid(
            "invalid_id",
            format!("{field} must be 1-{MAX_ID} letters, digits, '-' or '_', not {value:?}"),
        ))
    }
}

/// Checks a human-readable text field: not blank, at most 200 characters,
/// no control characters. The rule of [`Text`].
pub fn check_text(field: &str, value: &str) -> Result<(), AdminError> {
    if value.trim().is_empty()
        || value.chars().count() > MAX_TEXT
        || value.chars().any(char::is_control)
    {
        return Err(AdminError::invalid(
            "invalid_request",
            format!("{field} must be 1-{MAX_TEXT} characters of text without control characters"),
        ));
    }
    Ok(())
}

/// Checks a new username: text of at most 64 characters without spaces.
/// The rule of [`Username`].
pub fn check_username(value: &str) -> Result<(), AdminError> {
    check_text("username", value)?;
    if value.chars().count() > MAX_ID || value.contains(char::is_whitespace) {
        return Err(AdminError::invalid(
            "invalid_request",
            format!("username must be at most {MAX_ID} characters without spaces"),
        ));
    }
    Ok(())
}

/// Checks a new password's length. The rule of [`Password`].
pub fn check_password(password: &str) -> Result<(), AdminError> {
    let (min, max) = PASSWORD;
    if (min..=max).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(AdminError::invalid(
            "weak_password",
            format!("a password must be {min}-{max} characters"),
        ))
    }
}

/// Checks the password a login gives: 1–200 characters, not blank (any
/// password the office may have set). The rule of [`LoginPassword`].
pub fn check_login_password(password: &str) -> Result<(), AdminError> {
    if password.trim().is_empty() || password.chars().count() > PASSWORD.1 {
        return Err(AdminError::invalid(
            "invalid_request",
            format!("password must be 1-{} characters", PASSWORD.1),
        ));
    }
    Ok(())
}

schema_rule!(
    /// [`check_text`]: 1–200 characters, not blank, no control characters.
    Text => string_schema(
        "Text: 1-200 characters, not only spaces, no control characters",
        Some((1, MAX_TEXT)),
        Some(format!("^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$")),
        None,
    )
);

schema_rule!(
    /// [`check_id`]: 1–64 ASCII letters, digits, `-` or `_`.
    Id => string_schema(
        "An id: 1-64 ASCII letters, digits, '-' or '_'",
        Some((1, MAX_ID)),
        Some(format!("^[A-Za-z0-9_-]{{1,{MAX_ID}}}$")),
        None,
    )
);

schema_rule!(
    /// [`check_username`]: 1–64 characters, no spaces or control characters.
    Username => string_schema(
        "A username: 1-64 characters without spaces or control characters",
        Some((1, MAX_ID)),
        Some(format!("^[^{CONTROL}{SPACE}]{{1,{MAX_ID}}}$")),
        None,
    )
);

schema_rule!(
    /// [`check_password`]: 8–200 characters.
    Password => string_schema("A password: 8-200 characters", Some(PASSWORD), None, None)
);

schema_rule!(
    /// A password as login takes it: 1–200 characters, not blank.
    LoginPassword => string_schema(
        "The password: 1-200 characters, not only spaces",
        Some((1, PASSWORD.1)),
        Some(format!(r"[^\t-\r\x85{SPACE}]")),
        None,
    )
);
