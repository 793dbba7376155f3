"""Write the exported JSON Schema files and re-canonicalise the golden examples.

Run from the repository root after changing the contract:

    .venv/bin/python contract/regenerate.py

Steps:
1. write ``contract/schema/{kind}.schema.json`` from ``noisefleet_core.contract.schema`` (data
   messages and commands);
2. decode every ``contract/examples/{kind}.json`` (the file name is the kind) and write it back in
   canonical form (sorted keys, 2-space indent, newline). A data message names its site and
   sensor; a command does not (the topic is its address), so commands are decoded on the topic
   of ``COMMAND_SITE``/``COMMAND_SENSOR``. An example that no longer decodes stops the script
   with the contract error: fix it by hand;
3. render ``docs/contract.md`` (the reference page) from the schemas and the examples.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from noisefleet_core.contract.commands import decode_command, encode_command
from noisefleet_core.contract.messages import decode, encode
from noisefleet_core.contract.reference import render_reference
from noisefleet_core.contract.schema import schema_files
from noisefleet_core.contract.topics import COMMAND_KINDS, topic

HERE = Path(__file__).resolve().parent
COMMAND_SITE = "riverside-park"
COMMAND_SENSOR = "s01"


def example_topic(path: Path) -> str:
    if path.stem in COMMAND_KINDS:
        return topic(COMMAND_SITE, COMMAND_SENSOR, path.stem)  # type: ignore[arg-type]
    data = json.loads(path.read_bytes())
    return topic(data["site"], data["sensor"], path.stem)  # type: ignore[arg-type]


def canonical_example(path: Path) -> bytes:
    if path.stem in COMMAND_KINDS:
        command = decode_command(example_topic(path), path.read_bytes())
        return encode_command(command, indent=2) + b"\n"
    return encode(decode(example_topic(path), path.read_bytes()), indent=2) + b"\n"


def main() -> int:
    schema_folder = HERE / "schema"
    schema_folder.mkdir(exist_ok=True)
    for name, text in schema_files().items():
        (schema_folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {schema_folder / name}")
    for path in sorted((HERE / "examples").glob("*.json")):
        path.write_bytes(canonical_example(path))
        print(f"canonicalised {path}")
    reference = HERE.parent / "docs" / "contract.md"
    examples = {p.stem: p.read_bytes() for p in (HERE / "examples").glob("*.json")}
    reference.write_text(render_reference(schema_files(), examples), encoding="utf-8")
    print(f"wrote {reference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
