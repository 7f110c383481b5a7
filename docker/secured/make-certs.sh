#!/usr/bin/env bash
# Makes what docker/compose.secured.yaml needs, in docker/secured/ (kept if already there):
#   certs/ca.pem                 the CA every client trusts
#   certs/server.pem, server.key the certificate of `kafka` and `redis` (one, with both names)
#   certs/kafka.pem              the key and the certificate together: Kafka's PEM key store
#   secrets.env                  random passwords: the Redis ACL user, the Kafka SASL users
# Run it once before `docker compose ... up`. Test-grade: the key files are world-readable so that
# the containers' users (kafka 1000, redis 999) can read them; use your own PKI in production.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../scripts/make-certs.sh" "$here/certs" DNS:kafka DNS:redis DNS:localhost
cat "$here/certs/server.key" "$here/certs/server.pem" >"$here/certs/kafka.pem"
chmod 644 "$here/certs/kafka.pem"
if [ ! -s "$here/secrets.env" ]; then
  umask 077
  {
    echo "REDIS_PASSWORD=$(openssl rand -hex 16)"
    echo "KAFKA_BROKER_PASSWORD=$(openssl rand -hex 16)"
    echo "KAFKA_INTEGRA_PASSWORD=$(openssl rand -hex 16)"
  } >"$here/secrets.env"
  chmod 644 "$here/secrets.env"
fi
echo "docker/secured: certificates in certs/, passwords in secrets.env"
