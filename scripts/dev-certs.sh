#!/usr/bin/env bash
# dev-certs.sh: make DEVELOPMENT-ONLY certificates to run tsh-issuer with mutual TLS locally.
#
# Owns: the directory given as argument (default data/dev-certs, git-ignored). Writes, all PEM:
#   ca.crt / ca.key                    dev CA: signs the server and client certificates below
#   server.crt / server.key            server certificate (SAN localhost, 127.0.0.1), signed by the dev CA
#   client.crt / client.key            client certificate (plays TSH), signed by the dev CA
#   revoked-client.crt / .key          client certificate signed by the dev CA, revoked in crl.pem
#   crl.pem                            the dev CA's CRL (revokes revoked-client.crt only)
#   other-ca.crt / other-ca.key        an unrelated CA
#   other-client.crt / .key            client certificate signed by the other CA (must be refused)
# Everything here is public test material: never configure it in production.
# Keys are ECDSA P-256 in PKCS#8 ("PRIVATE KEY"); made with the openssl CLI.
#
# Usage: scripts/dev-certs.sh [DIR] [--force]
#   An existing set is kept (only the usage is printed again) unless --force is given.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR=""
FORCE=""
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "unknown option: $arg" >&2; exit 2 ;;
        *) DIR="$arg" ;;
    esac
done
DIR="${DIR:-$ROOT/data/dev-certs}"
DAYS=3650

command -v openssl >/dev/null || { echo "openssl CLI not found" >&2; exit 1; }

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

if [[ -e "$DIR/ca.crt" && -z "$FORCE" ]]; then
    echo "keeping the existing certificates in $DIR (pass --force to regenerate)"
else
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    # A self-contained openssl config, so the result does not depend on the system's openssl.cnf.
    cat >"$WORK/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no

[dn]

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

# For 'openssl ca -revoke / -gencrl' only (the dev CA's CRL).
[ca]
default_ca = dev_ca

[dev_ca]
database = $WORK/index.txt
crlnumber = $WORK/crlnumber
default_md = sha256
default_crl_days = $DAYS
crl_extensions = crl_ext

[crl_ext]
authorityKeyIdentifier = keyid
EOF
    : >"$WORK/index.txt"
    echo 01 >"$WORK/crlnumber"

    new_key() {
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
        chmod 0600 "$1"
    }
    # make_ca NAME SUBJECT
    make_ca() {
        new_key "$DIR/$1.key"
        openssl req -new -x509 -config "$WORK/openssl.cnf" -extensions ca_ext \
            -key "$DIR/$1.key" -out "$DIR/$1.crt" -days "$DAYS" -sha256 \
            -set_serial "0x$(openssl rand -hex 16)" -subj "$2"
    }
    # make_leaf NAME CA EXTENSIONS SUBJECT
    make_leaf() {
        new_key "$DIR/$1.key"
        openssl req -new -config "$WORK/openssl.cnf" -key "$DIR/$1.key" -subj "$4" -out "$WORK/$1.csr"
        openssl x509 -req -in "$WORK/$1.csr" -CA "$DIR/$2.crt" -CAkey "$DIR/$2.key" \
            -extfile "$WORK/openssl.cnf" -extensions "$3" -days "$DAYS" -sha256 \
            -set_serial "0x$(openssl rand -hex 16)" -out "$DIR/$1.crt" 2>/dev/null
    }

    make_ca ca "/O=tsh-issuer DEV ONLY/CN=tsh-issuer dev CA - not for production"
    make_leaf server ca server_ext "/O=tsh-issuer DEV ONLY/CN=localhost"
    make_leaf client ca client_ext "/O=tsh-issuer DEV ONLY/CN=dev TSH client"
    make_leaf revoked-client ca client_ext "/O=tsh-issuer DEV ONLY/CN=dev TSH client (revoked)"
    make_ca other-ca "/O=someone else DEV ONLY/CN=other CA - not trusted by tsh-issuer"
    make_leaf other-client other-ca client_ext "/O=someone else DEV ONLY/CN=other client"

    openssl ca -config "$WORK/openssl.cnf" -keyfile "$DIR/ca.key" -cert "$DIR/ca.crt" \
        -revoke "$DIR/revoked-client.crt" -crl_reason keyCompromise 2>/dev/null
    openssl ca -config "$WORK/openssl.cnf" -keyfile "$DIR/ca.key" -cert "$DIR/ca.crt" \
        -gencrl -out "$DIR/crl.pem" 2>/dev/null

    for name in server client revoked-client other-client; do
        openssl verify -CAfile "$DIR/ca.crt" "$DIR/$name.crt" >/dev/null 2>&1 \
            || [[ "$name" == other-client ]] \
            || { echo "self-check failed: $name.crt does not chain to ca.crt" >&2; exit 1; }
    done
    echo "wrote dev CA, server, client, revoked-client, other-CA and other-client certificates to $DIR"
fi

cat <<EOF

DEVELOPMENT ONLY. Run the service with mutual TLS:

  export TSH_ISSUER__SERVER__TLS__CERT=$DIR/server.crt
  export TSH_ISSUER__SERVER__TLS__KEY=$DIR/server.key
  export TSH_ISSUER__SERVER__TLS__CLIENT_CA=$DIR/ca.crt
  export TSH_ISSUER__SERVER__TLS__CRL=$DIR/crl.pem      # optional: refuses revoked-client.crt
  cargo run --release

Call it as TSH would (client certificate from the dev CA):

  curl --cacert $DIR/ca.crt --cert $DIR/client.crt --key $DIR/client.key https://localhost:8080/health/live

Refused during the TLS handshake, before any HTTP:

  curl --cacert $DIR/ca.crt https://localhost:8080/health/live                                         # no client certificate
  curl --cacert $DIR/ca.crt --cert $DIR/other-client.crt --key $DIR/other-client.key https://localhost:8080/health/live   # other CA
  curl --cacert $DIR/ca.crt --cert $DIR/revoked-client.crt --key $DIR/revoked-client.key https://localhost:8080/health/live   # revoked (with the CRL set)
EOF
