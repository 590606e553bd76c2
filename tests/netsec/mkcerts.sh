#!/bin/sh
# tests/netsec/mkcerts.sh DIR — throwaway test PKI for the TLS tests:
#   DIR/ca.pem            CA "nactor test CA 1"
#   DIR/a.pem, DIR/b.pem  node certificate + key signed by CA 1 (CN and
#                         DNS names 127.0.0.1 and localhost)
#   DIR/ca2.pem, DIR/x.pem  another CA and a node certificate it signed
# Exit 77 when openssl is missing. Keys are EC P-256 (fast to make).
set -e
dir=$1
command -v openssl >/dev/null 2>&1 || { echo "openssl not installed" >&2; exit 77; }
mkdir -p "$dir"
cd "$dir"
ext=ext.cnf
printf 'subjectAltName=DNS:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > $ext
mkca() { # name cn
	openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
	openssl req -x509 -new -key "$1.key" -sha256 -days 2 -subj "/CN=$2" -out "$1.pem" 2>/dev/null
}
mknode() { # name ca
	openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
	openssl req -new -key "$1.key" -subj "/CN=127.0.0.1" -out "$1.csr" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
		-sha256 -extfile $ext -out "$1.crt" 2>/dev/null
	cat "$1.crt" "$1.key" > "$1.pem"
}
mkca ca "nactor test CA 1"
mkca ca2 "nactor test CA 2"
mknode a ca
mknode b ca
mknode x ca2
