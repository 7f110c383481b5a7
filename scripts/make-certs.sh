#!/usr/bin/env bash
# Makes a test certificate authority and a server certificate it signs, with openssl.
# Usage: scripts/make-certs.sh DIR [SAN ...]
#   DIR/ca.pem, DIR/ca.key        the CA (clients trust ca.pem)
#   DIR/server.pem, DIR/server.key the server's certificate (subjectAltName: the SANs given,
#                                  default IP:127.0.0.1 DNS:localhost) and its key
#   DIR/other-ca.pem              a second CA that signed nothing: "an unknown CA" for tests
# Keeps what DIR already holds. For tests and the compose overlay, not for production.
set -euo pipefail
dir=$1; shift
sans=("$@"); [ ${#sans[@]} -eq 0 ] && sans=(IP:127.0.0.1 DNS:localhost)
mkdir -p "$dir"; cd "$dir"
[ -s server.pem ] && [ -s other-ca.pem ] && exit 0
ca() { # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
ca ca "Integra test CA"
ca other-ca "Integra unknown CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=${sans[0]#*:}" -keyout server.key -out server.csr 2>/dev/null
san=$(IFS=,; echo "${sans[*]}")
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$san" >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl other-ca.key
chmod 644 ./*.pem server.key
echo "certificates in $dir"
