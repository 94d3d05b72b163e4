"""Prints the versions of the Python Kafka clients in the venv, one per line."""
import aiokafka
import confluent_kafka
import kafka
import lz4

print(f"confluent-kafka {confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]})")
print(f"kafka-python {kafka.__version__}")
print(f"aiokafka {aiokafka.__version__}")
print(f"lz4 {lz4.__version__}")
