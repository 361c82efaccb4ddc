//! `uniffi-bindgen` for the fieldsync SDK:
//! `uniffi-bindgen generate --library libfieldsync_sdk.so --language kotlin --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
