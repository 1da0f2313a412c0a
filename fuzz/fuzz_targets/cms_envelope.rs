//! Fuzz target: the CMS / BER parser and decryption of `cipheredCardInfo`, then the card data
//! JSON inside, with the dev issuer keys. Input bytes are the DER/BER envelope itself (base64
//! encoded here, as TSH sends it), so the fuzzer mutates the ASN.1 structure directly.
#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use tsh_issuer::crypto::KeyRing;
use tsh_issuer::domain::callbacks::SealedCardData;

static KEYS: LazyLock<KeyRing> = LazyLock::new(|| {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/dev-keys");
    KeyRing::load_dir(&dir).expect("dev keys load")
});

fuzz_target!(|envelope: &[u8]| {
    let b64 = base64::engine::general_purpose::STANDARD.encode(envelope);
    let _ = KEYS.decrypt_envelope(&b64);
    if let Some(sealed) = SealedCardData::new(&b64) {
        let _ = tsh_issuer::service::card_data::open_card_info(&KEYS, &sealed);
    }
});
