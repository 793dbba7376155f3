"""Test support: real external components (a mosquitto broker) that tests start and stop."""
