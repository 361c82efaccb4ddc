"""schemathesis hooks for the contract test (tests/it/contract.rs)."""

import schemathesis

# tus PATCH bodies (`application/offset+octet-stream`) are raw bytes.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
