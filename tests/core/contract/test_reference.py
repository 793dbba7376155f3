"""docs/contract.md is rendered from the contract's schemas and golden examples."""

from __future__ import annotations

import json
from pathlib import Path

from noisefleet_core.contract.reference import render_reference
from noisefleet_core.contract.schema import schema_files

REPO = Path(__file__).resolve().parents[3]


def examples() -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in (REPO / "contract" / "examples").glob("*.json")}


def test_the_committed_reference_is_up_to_date() -> None:
    committed = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    assert committed == render_reference(schema_files(), examples()), (
        "docs/contract.md is stale; run: .venv/bin/python contract/regenerate.py"
    )


def test_every_kind_and_every_field_is_documented_with_its_example() -> None:
    page = render_reference(schema_files(), examples())
    for text in schema_files().values():
        schema = json.loads(text)
        kind = schema["properties"]["kind"]["const"]
        assert f"## `{kind}`" in page
        for field in schema["properties"]:
            assert f"| `{field}` |" in page, (kind, field)
        assert examples()[kind].decode().strip() in page
    # Nested records get their own table, with their required fields marked.
    assert "| field (levels.records) |" in page
    assert "| `laeq_db` | number or null | yes |" in page
    assert "server → agent (command)" in page.split("## `set`")[1].split("|")[0]
