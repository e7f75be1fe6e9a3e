"""The audit trail's test vectors (docs/FORMAT.md, "The audit trail").

The corpus in ``tests/vectors/audit/`` is built by ``tests/vectors/generate_audit.py``
from the format's description alone; it is regenerated here and must match byte for
byte, every vector must verify (or fail at its first bad seq) exactly as it says, and
credctl's own writer must produce the valid vector's lines from the same inputs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from credctl.audit import seal
from credctl.audit.reader import examine

VECTORS = Path(__file__).parent / "vectors"
VECTOR_DIR = VECTORS / "audit"
NAMES = sorted(p.name for p in VECTOR_DIR.iterdir())


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_audit", VECTORS / "generate_audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(name: str) -> tuple[dict[str, str], bytes]:
    raw = (VECTOR_DIR / name).read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields = dict(line.split(": ", 1) for line in head.decode().splitlines())
    return fields, body


def test_the_corpus_matches_its_generator(tmp_path: Path) -> None:
    generator().main(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == NAMES
    for name in NAMES:
        assert (tmp_path / name).read_bytes() == (VECTOR_DIR / name).read_bytes(), name


def test_the_corpus_covers_the_documented_cases() -> None:
    assert len(NAMES) >= 15
    doc = (Path(__file__).parents[1] / "docs" / "FORMAT.md").read_text()
    for name in NAMES:
        assert f"`{name}`" in doc, f"docs/FORMAT.md does not describe the vector {name}"


@pytest.mark.parametrize("name", NAMES)
def test_vector(name: str) -> None:
    fields, body = parse(name)
    vault_id = bytes.fromhex(fields["vault-id"])
    config = seal.TrailConfig.from_settings(json.loads(fields["settings"]), vault_id)
    assert config is not None
    report = examine(config, [body])
    if fields["expect"] == "verified":
        assert report.problem is None, report.problem
        assert report.count == int(fields["entries"])
        assert report.head == (int(fields["head-seq"]), seal.unb64(fields["head-hash"]))
        assert report.torn == int(fields["torn-bytes"])
        assert len(report.entries) == report.count  # every entry also decrypts
    else:
        assert fields["expect"] == "tampered"
        assert report.problem is not None
        assert report.problem[0] == int(fields["first-bad-seq"]), report.problem


def test_credctl_writes_the_valid_vector() -> None:
    gen = generator()
    fields, body = parse("valid")
    vault_id = bytes.fromhex(fields["vault-id"])
    config = seal.TrailConfig.from_settings(json.loads(fields["settings"]), vault_id)
    assert config is not None
    keys = config.keys(1)
    prev = seal.genesis(keys, vault_id)
    assert prev == config.base[1]
    written = []
    for seq, entry in enumerate(gen.ENTRIES, start=1):
        nonce = seal.parse_line(body.splitlines(keepends=True)[seq - 1]).nonce
        line, prev = seal.seal_line(keys, vault_id, seq, prev, seal.entry_json(entry), nonce)
        written.append(line)
    assert b"".join(written) == body
    assert seal.epoch_root(gen.DATA_KEY, vault_id) == config.epochs[0]
