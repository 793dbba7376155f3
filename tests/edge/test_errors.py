"""One root exception for the edge package: recovery is decided by our own classes, never by
a builtin base such as ``ValueError`` (``noisefleet_edge.errors``)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import noisefleet_edge
from noisefleet_edge.errors import NoisefleetEdgeError


def _error_classes() -> list[type[BaseException]]:
    found = []
    for module_info in pkgutil.walk_packages(noisefleet_edge.__path__, "noisefleet_edge."):
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_edge_error_has_the_one_root_and_no_builtin_value_error() -> None:
    classes = _error_classes()
    assert len(classes) >= 15
    assert [c.__qualname__ for c in classes if not issubclass(c, NoisefleetEdgeError)] == []
    assert [c.__qualname__ for c in classes if issubclass(c, ValueError)] == []
