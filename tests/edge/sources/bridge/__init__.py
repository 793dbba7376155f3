"""Tests of the MCU bridge."""
