"""The model folder contract shared by training (writer) and the edge (reader)."""
