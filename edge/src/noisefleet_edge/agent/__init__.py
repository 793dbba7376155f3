"""The edge agent service: durable outbox, MQTT link and the workers around them."""
