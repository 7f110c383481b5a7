#!/usr/bin/env bash
# Starts Apache Kafka 4 (KRaft, one node) with one listener, SASL_SSL, SCRAM-SHA-512. The users
# `broker` (between brokers) and `integra` are made when the storage is formatted (--add-scram),
# from the passwords in secrets.env; the key store and trust store are PEM files.
set -euo pipefail
config=/tmp/server.properties
cat >"$config" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@kafka:9093
controller.listener.names=CONTROLLER
listeners=SASL_SSL://:9092,CONTROLLER://:9093
advertised.listeners=SASL_SSL://kafka:9092
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${KAFKA_BROKER_PASSWORD}";
ssl.keystore.type=PEM
ssl.keystore.location=/certs/kafka.pem
ssl.truststore.type=PEM
ssl.truststore.location=/certs/ca.pem
log.dirs=/var/lib/kafka/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
PROPS
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  /opt/kafka/bin/kafka-storage.sh format --config "$config" --cluster-id "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
    --add-scram "SCRAM-SHA-512=[name=broker,password=${KAFKA_BROKER_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=integra,password=${KAFKA_INTEGRA_PASSWORD}]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$config"
