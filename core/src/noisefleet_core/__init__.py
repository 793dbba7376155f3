"""noisefleet's pure core: acoustics and the message contract, with no I/O, clocks or globals."""
