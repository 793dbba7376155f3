"""Acoustics per IEC 61672-1: weightings, the streaming level meter, energy combination."""
