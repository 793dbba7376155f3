"""Where a sensor's audio comes from: a microphone, a microcontroller bridge, or a file."""
