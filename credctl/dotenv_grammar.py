"""python-dotenv 1.x's line grammar (dotenv/parser.py), shared by the dotenv importer
and by `render`'s dotenv escaping so that both read files exactly as python-dotenv does."""

from __future__ import annotations

import re
from typing import Final

MULTILINE_WHITESPACE: Final = re.compile(r"\s*", re.MULTILINE)
EXPORT: Final = re.compile(r"(?:export[^\S\r\n]+)?")
SINGLE_QUOTED_KEY: Final = re.compile(r"'([^']+)'")
UNQUOTED_KEY: Final = re.compile(r"([^=\#\s]+)")
WHITESPACE: Final = re.compile(r"[^\S\r\n]*")
EQUAL_SIGN: Final = re.compile(r"(=[^\S\r\n]*)")
SINGLE_QUOTED_VALUE: Final = re.compile(r"'((?:\\'|[^'])*)'")
DOUBLE_QUOTED_VALUE: Final = re.compile(r'"((?:\\"|[^"])*)"')
UNQUOTED_VALUE: Final = re.compile(r"([^\r\n]*)")
COMMENT: Final = re.compile(r"(?:[^\S\r\n]*#[^\r\n]*)?")
END_OF_LINE: Final = re.compile(r"[^\S\r\n]*(?:\r\n|\n|\r|$)")
REST_OF_LINE: Final = re.compile(r"[^\r\n]*(?:\r|\n|\r\n)?")
