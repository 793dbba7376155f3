"""Features shared by training and the edge: the log-mel frontend and its parameters."""
