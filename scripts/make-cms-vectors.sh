#!/usr/bin/env bash
# make-cms-vectors.sh: build the CMS EnvelopedData test vectors in fixtures/cms/ with the openssl CLI.
#
# Owns: fixtures/cms/NN-case.b64 (base64 of the envelope, one line), fixtures/cms/NN-case.json (the plaintext that
# was encrypted) and fixtures/cms/README.md. The expected outcome of every case is pinned by the table in
# src/crypto/tests.rs, which fails if a .b64 here has no entry there.
#
# openssl is an implementation independent of src/crypto/, so these vectors check interoperability, not only
# self-consistency. Needs: bash, openssl (3.x), base64, od, dd, awk. Run after scripts/make-dev-keys.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEYS="$ROOT/fixtures/dev-keys"
OUT="$ROOT/fixtures/cms"
DEV="$KEYS/issuer-dev.crt"
ROT="$KEYS/issuer-dev-2026b.crt"
OTHER="$OUT/other-recipient.crt"

for f in "$DEV" "$ROT" "$OTHER"; do
    [[ -f "$f" ]] || { echo "missing $f: run scripts/make-dev-keys.sh first" >&2; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
rm -f "$OUT"/[0-9][0-9]-*.b64 "$OUT"/[0-9][0-9]-*.json

OAEP_SHA256=(-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256)

# Plaintexts: dev PANs that pass Luhn (public test numbers), no real card data.
P_VISA='{"fpan":"4111111111111111","exp":"1230","cvv":"123"}'
P_MC='{"fpan":"5555555555554444","exp":"0829"}'
P_AMEX='{"fpan":"378282246310005","exp":"0131","cvv":"1234"}'
P_EXTRA='{"fpan":"4000056655665556","exp":"1127","cvv":"321","additionalCardInfos":{"cardholderName":"DEV TEST"}}'

# encrypt CASE PLAINTEXT openssl-cms-args...  → $WORK/CASE.der and fixtures/cms/CASE.json
encrypt() {
    local case="$1" plain="$2"
    shift 2
    printf '%s' "$plain" >"$OUT/$case.json"
    openssl cms -encrypt -binary -in "$OUT/$case.json" -outform DER -out "$WORK/$case.der" "$@"
}

# emit CASE [DER_FILE]  → fixtures/cms/CASE.b64 (standard alphabet, one line, trailing newline)
emit() {
    local case="$1" der="${2:-$WORK/$1.der}"
    base64 -w0 "$der" >"$OUT/$case.b64"
    echo >>"$OUT/$case.b64"
    echo "wrote fixtures/cms/$case.b64"
}

# flip_byte FILE OFFSET MASK: XOR one byte in place.
flip_byte() {
    local file="$1" offset="$2" mask="$3" byte
    byte="$(od -An -tu1 -j "$offset" -N1 "$file" | tr -d ' ')"
    printf "\\x$(printf '%02x' $((byte ^ mask)))" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
}

# Offset of the first RSA-encrypted key (the OCTET STRING of length BYTES) in a DER file.
enc_key_offset() {
    local der="$1" bytes="$2"
    openssl asn1parse -inform DER -in "$der" |
        awk -v len="$bytes" '$0 ~ "prim: OCTET STRING" && $0 ~ "l= *" len " " {
            split($1, a, ":"); off = a[1]; sub(/.*hl=/, "", $0); split($0, h, " "); print off + h[1]; exit }'
}

# --- Cases that must decrypt -------------------------------------------------------------------------------------
encrypt 01-pkcs1-aes256 "$P_VISA" -aes-256-cbc -recip "$DEV"
emit 01-pkcs1-aes256

encrypt 02-oaep-sha256-aes256 "$P_VISA" -aes-256-cbc -recip "$DEV" "${OAEP_SHA256[@]}"
emit 02-oaep-sha256-aes256

encrypt 03-oaep-sha256-rotation-4096 "$P_MC" -aes-256-cbc -recip "$ROT" "${OAEP_SHA256[@]}"
emit 03-oaep-sha256-rotation-4096

encrypt 04-pkcs1-ski "$P_VISA" -aes-256-cbc -keyid -recip "$DEV"
emit 04-pkcs1-ski

encrypt 05-oaep-sha256-ski-rotation "$P_AMEX" -aes-256-cbc -keyid -recip "$ROT" "${OAEP_SHA256[@]}"
emit 05-oaep-sha256-ski-rotation

encrypt 06-pkcs1-aes128 "$P_MC" -aes-128-cbc -recip "$DEV"
emit 06-pkcs1-aes128

encrypt 07-oaep-sha256-aes192 "$P_EXTRA" -aes-192-cbc -recip "$DEV" "${OAEP_SHA256[@]}"
emit 07-oaep-sha256-aes192

# OAEP with the RFC 4055 defaults (SHA-1, MGF1-SHA-1): openssl writes empty parameters.
encrypt 08-oaep-sha1-defaults "$P_VISA" -aes-256-cbc -recip "$DEV" -keyopt rsa_padding_mode:oaep
emit 08-oaep-sha1-defaults

# BER with indefinite lengths and a chunked (constructed) encrypted content, as streaming encoders produce.
encrypt 09-ber-indefinite-length "$P_EXTRA" -aes-256-cbc -stream -recip "$DEV" "${OAEP_SHA256[@]}"
emit 09-ber-indefinite-length

# Two recipients: the first is not ours, the second is the rotation key.
encrypt 10-two-recipients "$P_MC" -aes-256-cbc -recip "$OTHER" -recip "$ROT" "${OAEP_SHA256[@]}"
emit 10-two-recipients

# Bare EnvelopedData, without the ContentInfo wrapper: the DER after the [0] header inside the ContentInfo.
inner_offset="$(openssl asn1parse -inform DER -in "$WORK/02-oaep-sha256-aes256.der" |
    awk '$1 ~ /:d=2$/ { split($1, a, ":"); print a[1]; exit }')"
printf '%s' "$P_VISA" >"$OUT/11-bare-enveloped-data.json"
tail -c +"$((inner_offset + 1))" "$WORK/02-oaep-sha256-aes256.der" >"$WORK/11.der"
emit 11-bare-enveloped-data "$WORK/11.der"

# --- Cases that must fail ----------------------------------------------------------------------------------------
encrypt 20-other-recipient "$P_VISA" -aes-256-cbc -recip "$OTHER" "${OAEP_SHA256[@]}"
emit 20-other-recipient

encrypt 21-truncated "$P_VISA" -aes-256-cbc -recip "$DEV" "${OAEP_SHA256[@]}"
size="$(stat -c %s "$WORK/21-truncated.der")"
head -c "$((size - 40))" "$WORK/21-truncated.der" >"$WORK/21.der"
emit 21-truncated "$WORK/21.der"

# Encrypted content is the last field of the DER: flipping bit 5 of the last byte of the penultimate CBC block
# flips the same bit of the last plaintext byte (the padding length), so the padding is always invalid.
encrypt 22-corrupted-content "$P_VISA" -aes-256-cbc -recip "$DEV" "${OAEP_SHA256[@]}"
size="$(stat -c %s "$WORK/22-corrupted-content.der")"
flip_byte "$WORK/22-corrupted-content.der" "$((size - 17))" 32
emit 22-corrupted-content

encrypt 23-corrupted-key-oaep "$P_VISA" -aes-256-cbc -recip "$DEV" "${OAEP_SHA256[@]}"
flip_byte "$WORK/23-corrupted-key-oaep.der" "$(($(enc_key_offset "$WORK/23-corrupted-key-oaep.der" 256) + 10))" 1
emit 23-corrupted-key-oaep

encrypt 24-corrupted-key-pkcs1 "$P_VISA" -aes-256-cbc -recip "$DEV"
flip_byte "$WORK/24-corrupted-key-pkcs1.der" "$(($(enc_key_offset "$WORK/24-corrupted-key-pkcs1.der" 256) + 10))" 1
emit 24-corrupted-key-pkcs1

encrypt 25-oaep-sha384 "$P_VISA" -aes-256-cbc -recip "$DEV" \
    -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha384 -keyopt rsa_mgf1_md:sha384
emit 25-oaep-sha384

encrypt 26-oaep-sha256-mgf1-sha1 "$P_VISA" -aes-256-cbc -recip "$DEV" \
    -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha1
emit 26-oaep-sha256-mgf1-sha1

encrypt 27-des3-content "$P_VISA" -des3 -recip "$DEV"
emit 27-des3-content

# A ContentInfo of another type (id-data), not an EnvelopedData.
printf '%s' "$P_VISA" >"$OUT/28-not-enveloped-data.json"
openssl cms -data_create -binary -in "$OUT/28-not-enveloped-data.json" -outform DER -out "$WORK/28.der"
emit 28-not-enveloped-data "$WORK/28.der"

cat >"$OUT/README.md" <<'EOF'
# fixtures/cms: CMS EnvelopedData test vectors (DEV ONLY, public)

Generated by `scripts/make-cms-vectors.sh` with the openssl CLI, an implementation independent of
`src/crypto/`, against the dev keys in `fixtures/dev-keys/` (spec §2). Each case is `NN-case.b64` (base64 of the
DER/BER envelope, one line) + `NN-case.json` (the plaintext that was encrypted; dev PANs that pass Luhn). The
expected outcome of each case is pinned in `src/crypto/tests.rs` (`CMS_CASES`), which also fails when a `.b64`
here has no entry there.

| case | envelope | expected |
|---|---|---|
| 01-pkcs1-aes256 | RSAES-PKCS1-v1_5, AES-256-CBC, issuer+serial → issuer-dev | plaintext |
| 02-oaep-sha256-aes256 | RSAES-OAEP SHA-256/MGF1-SHA-256, AES-256-CBC → issuer-dev | plaintext |
| 03-oaep-sha256-rotation-4096 | OAEP SHA-256 → issuer-dev-2026b (RSA 4096, rotation) | plaintext |
| 04-pkcs1-ski | PKCS#1 v1.5, recipient named by subject key identifier | plaintext |
| 05-oaep-sha256-ski-rotation | OAEP SHA-256, SKI → issuer-dev-2026b | plaintext |
| 06-pkcs1-aes128 | PKCS#1 v1.5, AES-128-CBC | plaintext |
| 07-oaep-sha256-aes192 | OAEP SHA-256, AES-192-CBC, `additionalCardInfos` | plaintext |
| 08-oaep-sha1-defaults | OAEP with default parameters (SHA-1, MGF1-SHA-1) | plaintext |
| 09-ber-indefinite-length | `openssl cms -stream`: BER, indefinite lengths, chunked content | plaintext |
| 10-two-recipients | other-recipient first, then issuer-dev-2026b | plaintext |
| 11-bare-enveloped-data | case 02's EnvelopedData without the ContentInfo wrapper | plaintext |
| 20-other-recipient | only recipient is `other-recipient.crt` (not in the key dir) | NoMatchingRecipient |
| 21-truncated | case-02-like envelope minus its last 40 bytes | Der |
| 22-corrupted-content | a bit flipped so the CBC padding is invalid | ContentDecrypt |
| 23-corrupted-key-oaep | a bit flipped in the OAEP-encrypted key | KeyUnwrap |
| 24-corrupted-key-pkcs1 | a bit flipped in the PKCS#1 v1.5-encrypted key | ContentDecrypt (RFC 3218 countermeasure) |
| 25-oaep-sha384 | OAEP SHA-384/MGF1-SHA-384 | UnsupportedKeyTransport |
| 26-oaep-sha256-mgf1-sha1 | OAEP SHA-256 with MGF1-SHA-1 | UnsupportedKeyTransport |
| 27-des3-content | content encrypted with 3DES-CBC | UnsupportedContentCipher |
| 28-not-enveloped-data | a ContentInfo of type id-data | NotEnvelopedData |

Other files: `other-recipient.crt/.key` (a key pair deliberately absent from `fixtures/dev-keys/`) and
`bad-keys/` (RSA 1024 and 8192 pairs the key ring must refuse), both from `scripts/make-dev-keys.sh`.
EOF
echo "done: $OUT"
