"""The streaming masker of `credctl exec --mask`: every chunking gives the one-shot result."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import example, given, settings
from hypothesis import strategies as st

from credctl.exec.masking import MASK, StreamMasker, mask


def reference(text: bytes, secrets: Sequence[bytes]) -> bytes:
    """The definition, naively: hide every occurrence; overlapping ones share one mask."""
    spans = sorted(
        (start, start + len(secret))
        for secret in {s for s in secrets if s}
        for start in range(len(text))
        if text.startswith(secret, start)
    )
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, position = bytearray(), 0
    for start, end in merged:
        out += text[position:start] + MASK
        position = end
    return bytes(out + text[position:])


def streamed(chunks: Sequence[bytes], secrets: Sequence[bytes]) -> bytes:
    masker = StreamMasker(secrets)
    return b"".join(masker.feed(chunk) for chunk in chunks) + masker.flush()


def cut(text: bytes, points: Sequence[int]) -> list[bytes]:
    """`text` cut at `points` (any order, repeats allowed: empty reads happen too)."""
    bounds = [0, *sorted(p % (len(text) + 1) for p in points), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


# Secret characters never include "*", so the mask cannot spell a secret.
SECRET_BYTES = st.binary(min_size=1, max_size=12).filter(lambda s: b"*" not in s)
SMALL_ALPHABET = st.lists(st.sampled_from(b"abc"), min_size=1, max_size=6).map(bytes)


@st.composite
def text_with_secrets(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """Filler from bytes no secret uses, with secrets dropped in, separated by filler."""
    secrets = draw(st.lists(SECRET_BYTES.filter(lambda s: not set(s) & set(b"xyz \n")),
                            min_size=1, max_size=4))  # fmt: skip
    parts = draw(
        st.lists(
            st.one_of(st.sampled_from(secrets), st.binary(max_size=20).map(_filler)),
            max_size=30,
        )
    )
    return b"x".join(parts), secrets


def _filler(raw: bytes) -> bytes:
    return bytes(b"xyz \n"[byte % 5] for byte in raw)


@settings(max_examples=400, deadline=None)
@given(data=text_with_secrets(), points=st.lists(st.integers(min_value=0), max_size=40))
def test_chunked_output_equals_text_replace_of_every_secret(
    data: tuple[bytes, list[bytes]], points: list[int]
) -> None:
    text, secrets = data
    expected = text
    for secret in sorted(set(secrets), key=len, reverse=True):
        expected = expected.replace(secret, MASK)
    result = streamed(cut(text, points), secrets)
    assert expected == result
    for secret in secrets:
        assert secret not in result


@settings(max_examples=600, deadline=None)
@given(
    text=st.lists(st.sampled_from(b"abc*"), max_size=60).map(bytes),
    secrets=st.lists(SMALL_ALPHABET, min_size=1, max_size=4),
    points=st.lists(st.integers(min_value=0), max_size=30),
)
@example(text=b"abcd", secrets=[b"abc", b"bcd"], points=[2])
@example(text=b"aaaaaa", secrets=[b"aa"], points=[1, 3])
def test_overlapping_secrets_any_chunking_equals_one_shot(
    text: bytes, secrets: list[bytes], points: list[int]
) -> None:
    """Secrets that overlap each other, over a tiny alphabet: every byte of them is hidden."""
    expected = reference(text, secrets)
    assert expected == streamed(cut(text, points), secrets)
    assert expected == mask(text, secrets)
    result = streamed(cut(text, points), secrets)
    for secret in secrets:
        assert secret not in result


@settings(max_examples=200, deadline=None)
@given(text=st.binary(max_size=200), secrets=st.lists(SECRET_BYTES, max_size=3))
def test_one_byte_reads_equal_one_read(text: bytes, secrets: list[bytes]) -> None:
    assert mask(text, secrets) == streamed([bytes([b]) for b in text], secrets)


def test_a_secret_split_across_reads_is_masked() -> None:
    masker = StreamMasker([b"hunter2-secret"])
    first = masker.feed(b"password: hunter2-")
    second = masker.feed(b"secret\n")
    assert (first, second, masker.flush()) == (b"password: ", b"***\n", b"")


def test_only_a_possible_secret_prefix_is_held_back() -> None:
    """A prompt reaches the terminal at once; only a tail that may begin a secret waits."""
    masker = StreamMasker([b"s3cr3t-value"])
    assert masker.feed(b"Password: ") == b"Password: "
    assert masker.feed(b"ok s3c") == b"ok "
    assert masker.feed(b"ond") == b"s3cond"


def test_an_unfinished_prefix_is_written_at_the_end() -> None:
    masker = StreamMasker([b"s3cr3t-value"])
    assert masker.feed(b"tail s3cr3t-va") == b"tail "
    assert masker.flush() == b"s3cr3t-va"


def test_longest_secret_wins() -> None:
    assert mask(b"token=abcdef.", [b"abc", b"abcdef"]) == b"token=***."


def test_adjacent_occurrences_are_masked_separately() -> None:
    assert mask(b"abab", [b"ab"]) == b"******"


def test_short_and_empty_secrets() -> None:
    """Every non-empty secret is masked however short; an empty one masks nothing."""
    assert mask(b"a-b-a", [b"a", b""]) == b"***-b-***"
    assert mask(b"plain", [b""]) == b"plain"
    assert mask(b"plain", []) == b"plain"


def test_utf8_secret_split_inside_a_character() -> None:
    secret = "pässwörd-ß".encode()
    chunks = cut(b"x " + secret + b" y", [4, 5, 9])
    assert streamed(chunks, [secret]) == b"x *** y"


def test_large_stream_of_many_secrets() -> None:
    secrets = [b"FAKE-secret-%d-" % i + b"q" * 40 for i in range(5)]
    block = b"".join(b"line %d: " % i + secrets[i % 5] + b"\n" for i in range(20_000))
    result = streamed([block[i : i + 4093] for i in range(0, len(block), 4093)], secrets)
    assert result == b"".join(b"line %d: ***\n" % i for i in range(20_000))
