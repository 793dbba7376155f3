"""noisefleet edge agent: the sound level meter for recordings and live microphones."""
