#!/usr/bin/env bash
# The health check's client configuration (SASL_SSL as the user integra), written where the
# Kafka tools read it.
cat >/tmp/client.properties <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="integra" password="${KAFKA_INTEGRA_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=/certs/ca.pem
PROPS
exec /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server kafka:9092 --command-config /tmp/client.properties
