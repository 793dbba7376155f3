"""The root of every error the edge package raises on purpose.

Recovery decisions (retry a source, roll a model back, refuse a command, stop the agent) are
made by these classes, never by a builtin base such as ``ValueError``: a bug that raises a
``ValueError`` must not look like a bad model. Foreign exceptions (PortAudio, libsndfile,
SQLite, the TFLite interpreter, sockets) are wrapped where they are caught, into a subclass
with a one-line message for the operator.
"""

from __future__ import annotations


class NoisefleetEdgeError(Exception):
    """Something the edge agent or command cannot do; one line for the operator."""
