//! `uniffi-bindgen` for the fieldsync SDK, the same uniffi version as the
//! library it reads:
//! `uniffi-bindgen generate --library libfieldsync_ffi.so --language kotlin --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
