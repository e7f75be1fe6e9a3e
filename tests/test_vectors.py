"""The vault format test vectors (docs/FORMAT.md, "Test vectors") and format properties.

Every file in ``tests/vectors/vault/`` is opened with the library and through the
command line, and must fail (or succeed) exactly as its ``expect:`` line says.  The
corpus is regenerated on each run and must match the committed files byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credctl.errors import (
    CredentialError,
    KdfDowngradeError,
    UnsupportedFormatError,
    VaultCorruptError,
    VaultRollbackError,
    WrongPassphraseError,
)
from credctl.storage.vault_storage import VaultSnapshot
from credctl.vault import crypto, keys
from credctl.vault.body import RECORD_NAME, Body
from credctl.vault.crypto import KdfParams
from credctl.vault.format import (
    MAX_LABEL_BYTES,
    Header,
    ParsedFile,
    Slot,
    SlotType,
    assemble,
    checksum,
    parse_file,
)
from credctl.vault.store import Vault, decrypt_body
from tests.conftest import RunCli, assert_no_traceback

VECTORS = Path(__file__).parent / "vectors"
FORMAT_DOC = Path(__file__).parents[1] / "docs" / "FORMAT.md"
VECTOR_DIR = VECTORS / "vault"
VECTOR_NAMES = sorted(p.name for p in VECTOR_DIR.iterdir() if p.is_file())

# The vocabulary of `expect:` lines and the exit code each one means (docs/FORMAT.md).
EXPECT = {
    "success": 0,
    "wrong passphrase": 5,
    "header failure": 6,
    "unsupported version": 6,
    "downgrade": 6,
    "tampered": 6,
    "body failure": 6,
    "rollback": 6,
}
HEADER_KEYS = ("expect", "exit", "passphrase", "ci-key", "anchor", "payload", "comment")

# Where opening stopped, in order.  `decode` is the split of the plaintext, `index` the
# structural check of every index line, `record` the reading of each record.
STAGES = ("parse", "unwrap", "authenticate", "decode", "index", "record", "done")
STAGE_OF_FAILURE = {
    "wrong passphrase": {"unwrap"},
    "header failure": {"parse"},
    "unsupported version": {"parse"},
    "downgrade": {"parse"},  # refused before any Argon2id memory is allocated
    "rollback": {"parse"},
    "tampered": {"unwrap", "authenticate"},
    "body failure": {"decode", "index", "record"},
}


@dataclass(frozen=True)
class VectorFile:
    """One parsed vector: its header lines and the vault file bytes."""

    name: str
    expect: str
    exit: int
    comment: str
    data: bytes
    passphrase: str | None = None
    ci_key: str | None = None
    anchor: tuple[str, int] | None = None
    payload: str | None = None

    @classmethod
    def load(cls, path: Path) -> VectorFile:
        """Split ``key: value`` lines, a blank line, and the file."""
        head, separator, data = path.read_bytes().partition(b"\n\n")
        assert separator, f"{path.name}: no blank line after the header"
        fields: dict[str, str] = {}
        for line in head.decode("ascii").split("\n"):
            key, colon, value = line.partition(": ")
            assert colon, f"{path.name}: malformed header line {line!r}"
            assert key in HEADER_KEYS, f"{path.name}: unknown header key {key!r}"
            assert key not in fields, f"{path.name}: repeated header key {key!r}"
            fields[key] = value
        keys_in_order = [k for k in HEADER_KEYS if k in fields]
        assert list(fields) == keys_in_order, f"{path.name}: header keys out of order"
        anchor = None
        if "anchor" in fields:
            anchor_id, generation = fields["anchor"].split(" ")
            anchor = (anchor_id, int(generation))
        return cls(
            name=path.name,
            expect=fields["expect"],
            exit=int(fields["exit"]),
            comment=fields["comment"],
            data=data,
            passphrase=fields.get("passphrase"),
            ci_key=fields.get("ci-key"),
            anchor=anchor,
            payload=fields.get("payload"),
        )

    def install(self, vault_path: Path) -> None:
        """Put the file (and its anchor, if any) where a vault at `vault_path` lives."""
        vault_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        vault_path.write_bytes(self.data)
        vault_path.chmod(0o600)
        if self.anchor is not None:
            sidecar = vault_path.with_name(vault_path.name + ".d")
            sidecar.mkdir(mode=0o700, exist_ok=True)
            anchor = {"vault_id": self.anchor[0], "generation": self.anchor[1]}
            (sidecar / "anchor").write_text(json.dumps(anchor))


@dataclass
class Outcome:
    """How far opening a vector got, and why it stopped."""

    stage: str
    error: CredentialError | None = None
    plaintext: bytes | None = None

    @property
    def label(self) -> str:
        """The `expect:` word this outcome corresponds to."""
        error = self.error
        if error is None:
            return "success"
        if isinstance(error, WrongPassphraseError):
            return "wrong passphrase"
        if isinstance(error, VaultRollbackError):
            return "rollback"
        if isinstance(error, KdfDowngradeError):
            return "downgrade"
        if isinstance(error, UnsupportedFormatError):
            return "unsupported version"
        if isinstance(error, VaultCorruptError):
            if self.stage == "parse":
                return "header failure"
            if self.stage in {"unwrap", "authenticate"}:
                return "tampered"
            return "body failure"
        return f"unexpected {type(error).__name__}"


def authenticated_plaintext(parsed: ParsedFile, data_key: bytes) -> bytes | None:
    """The body plaintext if every authentication step passes, else None."""
    header = parsed.header
    if not crypto.checks_equal(
        keys.data_key_check(data_key, header.vault_id), header.data_key_check
    ):
        return None
    try:
        return crypto.unseal(
            keys.body_key(data_key, header),
            header.body_nonce,
            parsed.body_ciphertext,
            parsed.header_bytes,
        )
    except crypto.AuthenticationFailed:
        return None


def read_everything(body: Body, plaintext: bytes, outcome: Outcome) -> None:
    """Check the whole index, then read every record in each way credctl does.

    Lazily by id and by name on a fresh body (what `get-token` does), all at once, and
    through the vault storage layer, which also checks that each record's ``id`` and
    ``name`` agree with its index line.
    """
    outcome.stage = "index"
    names = body.names()
    outcome.stage = "record"
    for name, record_id in sorted(names.items()):
        by_id = Body.decode(plaintext).get_by_id(record_id)
        by_name = Body.decode(plaintext).get_by_name(name)
        assert by_id is not None
        assert by_name is not None
        assert by_id == (name, by_name[1])
        assert by_name[0] == record_id
        assert VaultSnapshot(Body.decode(plaintext)).get_by_id(record_id) == by_id[1]
        assert VaultSnapshot(Body.decode(plaintext)).get_by_name(name) == by_id[1]
    entries = list(body.entries())
    assert [(i, n) for i, n, _ in entries] == sorted((i, n) for n, i in names.items())
    assert list(VaultSnapshot(Body.decode(plaintext)).records()) == [v for _, _, v in entries]


def open_vector(vector: VectorFile, workdir: Path) -> Outcome:
    """Open a vector with the library, stage by stage, stopping at the first error."""
    outcome = Outcome("parse")
    try:
        if vector.anchor is not None:
            path = workdir / "anchored.credctl"
            vector.install(path)
            parsed = Vault(path).read_parsed()
        else:
            parsed = parse_file(vector.data)
        outcome.stage = "unwrap"
        if vector.ci_key is not None:
            data_key = keys.unwrap_with_ci_key(parsed.header, keys.CiKey.parse(vector.ci_key))
        else:
            assert vector.passphrase is not None
            data_key, _slot = keys.unwrap_with_passphrase(
                parsed.header, vector.passphrase.encode()
            )
        outcome.stage = "authenticate"
        plaintext = authenticated_plaintext(parsed, data_key)
        if plaintext is not None:
            outcome.stage = "decode"
            outcome.plaintext = plaintext
        body = decrypt_body(parsed, data_key)
        assert plaintext is not None, "decrypt_body accepted what failed authentication"
        read_everything(body, plaintext, outcome)
        outcome.stage = "done"
    except CredentialError as exc:
        outcome.error = exc
    return outcome


def load(name: str) -> VectorFile:
    return VectorFile.load(VECTOR_DIR / name)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "credctl_vector_generator", VECTORS / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while loading
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


# -- the corpus ----------------------------------------------------------------------------


def test_corpus_is_there() -> None:
    """Every `expect:` word has at least one vector."""
    expects = {load(name).expect for name in VECTOR_NAMES}
    assert expects == set(EXPECT)


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector_header(name: str) -> None:
    """The header lines are consistent: exit code, key source, payload, size."""
    vector = load(name)
    assert vector.expect in EXPECT
    assert vector.exit == EXPECT[vector.expect]
    assert (vector.passphrase is None) != (vector.ci_key is None)
    assert (vector.payload is not None) == (vector.expect == "success")
    assert vector.comment
    assert len(vector.data) < 8192, "keep the corpus small"


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_vector(name: str, tmp_path: Path) -> None:
    """Opening the vector with the library ends exactly as `expect:` says."""
    vector = load(name)
    outcome = open_vector(vector, tmp_path)
    assert outcome.label == vector.expect, (outcome.stage, outcome.error)
    if vector.expect == "success":
        assert outcome.stage == "done"
        assert outcome.plaintext is not None
        assert sha256(outcome.plaintext).hexdigest() == vector.payload
        # Files written by credctl are canonical: decoding and re-encoding is the identity.
        assert Body.decode(outcome.plaintext).encode() == outcome.plaintext
        assert parse_file(vector.data).header.encode() == parse_file(vector.data).header_bytes
        return
    assert outcome.error is not None
    assert outcome.stage in STAGE_OF_FAILURE[vector.expect]
    assert outcome.error.exit_code == vector.exit


@pytest.mark.parametrize("name", [n for n in VECTOR_NAMES if n.startswith("version_")])
def test_unsupported_version_is_named(name: str) -> None:
    """The error names the version found, so the user knows what wrote the file."""
    vector = load(name)
    (version,) = struct.unpack_from(">H", vector.data, 8)
    with pytest.raises(UnsupportedFormatError, match=rf"version {version}\b"):
        parse_file(vector.data)


def test_generator_reproduces_corpus(tmp_path: Path) -> None:
    """The committed vectors are exactly what the generator writes today."""
    generator = load_generator()
    assert generator.EXPECT == EXPECT
    generator.write_all(tmp_path)
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == VECTOR_NAMES
    for name in generated:
        fresh = (tmp_path / name).read_bytes()
        committed = (VECTOR_DIR / name).read_bytes()
        assert fresh == committed, f"{name} differs: run python tests/vectors/generate.py"


def test_format_document_lists_the_corpus() -> None:
    """docs/FORMAT.md names every vector and `expect:` word, and its example is current."""
    text = FORMAT_DOC.read_text()
    assert [n for n in VECTOR_NAMES if f"`{n}`" not in text] == []
    assert [w for w, code in EXPECT.items() if f"| `{w}` | {code} |" not in text] == []
    example = load("valid_passphrase").data
    (header_length,) = struct.unpack_from(">I", example, 12)
    assert f"`valid_passphrase` is {len(example)} bytes" in text
    assert f"Its header is {header_length} bytes" in text


# -- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_cli(name: str, run_cli: RunCli, vault_path: Path, tmp_path: Path) -> None:
    """The command line exits as the vector says, with no traceback and no write.

    `credctl unlock` decrypts and splits the body but reads no record, so damage in the
    index or in a record does not stop it from starting a session (exit 0).  Reading
    does: `key add-ci` checks the whole index before it writes and must refuse index
    damage; `get-token github` must refuse a damaged record.
    """
    vector = load(name)
    outcome = open_vector(vector, tmp_path)
    vector.install(vault_path)
    env = (
        {"CREDCTL_KEY": vector.ci_key}
        if vector.ci_key is not None
        else {"CREDCTL_PASSPHRASE": vector.passphrase or ""}
    )
    result = run_cli("unlock", "--ttl", "1m", env=env)
    expected = 0 if outcome.stage in {"index", "record", "done"} else vector.exit
    assert_exit(result, expected)
    if expected == 0:
        assert result.stdout.startswith("export CREDCTL_SESSION='credctl-s1.")
    if outcome.stage == "index":
        assert_exit(run_cli("key", "add-ci", "--with-ci-key", env=env), vector.exit)
    github = None
    if outcome.plaintext is not None and outcome.stage in {"record", "done"}:
        github = Body.decode(outcome.plaintext).names().get("github")
    if outcome.stage == "record":
        assert github is not None, "record vectors damage the record named github"
        assert_exit(run_cli("get-token", "github", env=env), vector.exit)
    if outcome.stage == "done" and github is not None:
        assert outcome.plaintext is not None
        found = Body.decode(outcome.plaintext).get_by_id(github)
        assert found is not None
        result = run_cli("get-token", "github", env=env)
        assert_exit(result, 0)
        assert result.stdout == found[1]["data"]["token"] + "\n"
    assert vault_path.read_bytes() == vector.data


def assert_exit(result: subprocess.CompletedProcess[str], code: int) -> None:
    """The exit code, no traceback, and on failure one error message and no data."""
    assert_no_traceback(result)
    assert result.returncode == code, result.stderr
    if code != 0:
        assert result.stdout == ""
        assert result.stderr.startswith("credctl: error: ")


# -- properties ----------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
)
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

kdf_params = st.builds(
    KdfParams,
    st.integers(crypto.MIN_MEMORY_KIB, crypto.MAX_MEMORY_KIB),
    st.integers(crypto.MIN_TIME_COST, crypto.MAX_TIME_COST),
    st.integers(crypto.MIN_PARALLELISM, crypto.MAX_PARALLELISM),
)
labels = st.text(max_size=MAX_LABEL_BYTES).filter(lambda s: len(s.encode()) <= MAX_LABEL_BYTES)


def exact(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size)


@st.composite
def slots(draw: st.DrawFn, slot_id: int) -> Slot:
    slot_type = draw(st.sampled_from(SlotType))
    return Slot(
        slot_id=slot_id,
        slot_type=slot_type,
        created=draw(st.integers(0, U64_MAX)),
        label=draw(labels),
        salt=draw(exact(crypto.SALT_SIZE)),
        check=draw(exact(crypto.CHECK_SIZE)),
        nonce=draw(exact(crypto.NONCE_SIZE)),
        wrapped_key=draw(exact(crypto.KEY_SIZE + crypto.TAG_SIZE)),
        kdf=draw(kdf_params) if slot_type is SlotType.PASSPHRASE else None,
    )


@st.composite
def headers(draw: st.DrawFn) -> Header:
    ids = draw(st.lists(st.integers(0, U32_MAX), min_size=1, max_size=6, unique=True))
    return Header(
        vault_id=draw(exact(16)),
        generation=draw(st.integers(0, U64_MAX)),
        body_salt=draw(exact(32)),
        body_nonce=draw(exact(crypto.NONCE_SIZE)),
        data_key_check=draw(exact(crypto.CHECK_SIZE)),
        slots=tuple(draw(slots(slot_id)) for slot_id in ids),
    )


@PROPERTY_SETTINGS
@given(header=headers(), ciphertext=st.binary(min_size=crypto.TAG_SIZE, max_size=64))
def test_header_round_trip(header: Header, ciphertext: bytes) -> None:
    """encode → parse → encode gives the same bytes and the same header."""
    header_bytes = header.encode()
    parsed = parse_file(assemble(header_bytes, ciphertext))
    assert parsed.header == header
    assert parsed.header_bytes == header_bytes
    assert parsed.header.encode() == header_bytes
    assert parsed.body_ciphertext == ciphertext


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
record_names = st.from_regex(RECORD_NAME.pattern.removesuffix(r"\Z"), fullmatch=True)


@st.composite
def record_tables(draw: st.DrawFn) -> dict[int, tuple[str, dict[str, object]]]:
    names = draw(st.lists(record_names, max_size=8, unique=True))
    ids = draw(
        st.lists(st.integers(0, 10**18 - 1), min_size=len(names), max_size=len(names), unique=True)
    )
    return {
        record_id: (name, draw(json_objects)) for record_id, name in zip(ids, names, strict=True)
    }


@PROPERTY_SETTINGS
@given(meta=json_objects, table=record_tables())
def test_body_round_trip(meta: dict[str, object], table: dict[int, tuple[str, dict]]) -> None:
    """Records survive encode → decode, by id, by name and all together, byte for byte."""
    body = Body(meta)
    for record_id, (name, value) in table.items():
        body.put(record_id, name, value)
    plaintext = body.encode()
    decoded = Body.decode(plaintext)
    assert decoded.meta == meta
    assert decoded.names() == {name: record_id for record_id, (name, _) in table.items()}
    for record_id, (name, value) in table.items():
        assert Body.decode(plaintext).get_by_id(record_id) == (name, value)
        assert Body.decode(plaintext).get_by_name(name) == (record_id, value)
    assert [(i, n, v) for i, n, v in decoded.entries()] == [(i, *table[i]) for i in sorted(table)]
    assert decoded.encode() == plaintext


mutations = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
        st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
        st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
        st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, steps: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in steps:
        position = where % (len(out) + 1)
        if kind == "flip" and position < len(out):
            out[position] ^= value
        elif kind == "truncate":
            del out[position:]
        elif kind == "insert":
            out[position:position] = bytes([value])
        elif kind == "delete":
            del out[position : position + value]
    return bytes(out)


@PROPERTY_SETTINGS
@given(steps=mutations, fix_checksum=st.booleans())
def test_parse_file_only_raises_vault_errors(
    steps: list[tuple[str, int, int]], fix_checksum: bool
) -> None:
    """Any mutation of a valid file parses canonically or raises a `VaultCorruptError`.

    With the checksum recomputed, the mutation reaches the header parser itself.
    """
    data = mutate(load("valid_passphrase").data, steps)
    if fix_checksum and len(data) >= 32:
        data = data[:-32] + checksum(data[:-32])
    try:
        parsed = parse_file(data)
    except VaultCorruptError:
        return
    assert parsed.header.encode() == parsed.header_bytes


SAMPLE_BODY = Body({"backup_count": 3, "last_slot_id": 2, "next_id": 11})
SAMPLE_BODY.put(1, "github", {"id": 1, "name": "github", "data": {"token": "fake"}})
SAMPLE_BODY.put(2, "0", {"id": 2, "name": "0", "data": {"key": "fake", "n": 1.5}})
SAMPLE_BODY.put(10, "mail-relay", {"id": 10, "name": "mail-relay", "data": {"port": 587}})
SAMPLE_PLAINTEXT = SAMPLE_BODY.encode()


@PROPERTY_SETTINGS
@given(steps=mutations)
def test_body_decode_only_raises_vault_errors(steps: list[tuple[str, int, int]]) -> None:
    """Any mutation of a valid body plaintext reads consistently or raises `VaultCorruptError`."""
    plaintext = mutate(SAMPLE_PLAINTEXT, steps)
    try:
        body = Body.decode(plaintext)
        read_everything(body, plaintext, Outcome("decode"))
    except VaultCorruptError:
        return
