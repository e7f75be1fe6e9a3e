"""Credential names (SPEC §2) and the environment-variable names derived from them.

The rules exist for the places a name is later parsed: no dots, so
``{{$credential.NAME.FIELD}}`` splits only one way; never all digits, because
wherever ``NAME|ID`` is accepted a decimal string is an id (SPEC §12); ASCII
letters, digits, ``_`` and ``-`` only, so a name is safe in a shell word, a file
name and (upper-cased, ``-`` → ``_``) an environment-variable prefix.
"""

from __future__ import annotations

import re
from typing import Final

from credctl.errors import InvalidInput
from credctl.text import quoted

MAX_NAME_LENGTH: Final = 128
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")
_ALLOWED: Final = re.compile(r"[A-Za-z0-9_-]")
_HINT: Final = (
    "use 1–128 ASCII letters, digits, '_' or '-', starting with a letter or digit, "
    "for example 'github-ci' or 'aws_prod'"
)


def shown(text: str, limit: int = 40) -> str:
    """User-given text (a name, never a secret value) quoted for a message, cut short."""
    return quoted(text, limit)


def validate_name(name: str) -> str:
    """`name` unchanged if it is a valid credential name, else `InvalidInput` saying why."""
    candidate: object = name
    if not isinstance(candidate, str):
        raise InvalidInput(f"a credential name must be a string, not {type(candidate).__name__}")
    if _NAME.match(candidate):
        if candidate.isdigit():
            raise InvalidInput(
                f"credential name {shown(candidate)} is all digits, which would be read as an id",
                hint=f"add a letter, for example 'c{candidate[:20]}'",
            )
        return candidate
    if not candidate:
        raise InvalidInput("credential name is empty", hint=_HINT)
    if len(candidate) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"credential name is {len(candidate)} characters long; at most "
            f"{MAX_NAME_LENGTH} are allowed",
            hint=_HINT,
        )
    bad = next((ch for ch in candidate if not _ALLOWED.match(ch)), None)
    if bad == ".":
        raise InvalidInput(
            f"credential name {shown(candidate)} contains a dot",
            hint="dots separate name and field in {{$credential.NAME.FIELD}}; use '_' or '-'",
        )
    if bad is not None:
        raise InvalidInput(
            f"credential name {shown(candidate)} contains {bad!r}, which is not allowed",
            hint=_HINT,
        )
    raise InvalidInput(
        f"credential name {shown(candidate)} must start with a letter or digit", hint=_HINT
    )


def env_prefix(name: str) -> str:
    """The default variable prefix for a credential: upper-cased, ``-`` → ``_`` (SPEC §2).

    The result is not checked: a name that starts with a digit gives a prefix that
    POSIX shells do not accept as a variable name, which the caller reports.
    """
    return name.upper().replace("-", "_")


def env_name(credential_name: str, field: str) -> str:
    """The default variable for one field: ``NAME_FIELD``, both parts as `env_prefix`."""
    return f"{env_prefix(credential_name)}_{env_prefix(field)}"


# -- derived variable names that change how programs run ---------------------------------
#
# A default variable name is derived from data (``NAME_FIELD``, upper-cased), and
# `custom` field names are chosen freely, so a credential ``ld`` with a field
# ``preload`` would export LD_PRELOAD into every program `credctl exec` starts.
# Such a derived name is refused (exit 9); the user can still choose it on purpose
# (``NAME.FIELD=VAR``, ``exec --env VAR=NAME.FIELD``).  The list holds variables
# that make a program load or run code, replace a program it starts, or redirect
# where it reads its configuration or sends credentials:
#
# - glibc's "unsecure" variables, which ld.so removes for set-user-ID programs for
#   this very reason (glibc ``sysdeps/generic/unsecvars.h``), and every ``LD_*``
#   (ld.so(8)); macOS dyld's ``DYLD_*`` (dyld(1));
# - shells: ``BASH_ENV``, ``ENV`` (read at start-up, bash(1) INVOCATION, POSIX sh),
#   ``BASH_FUNC_*`` (exported functions), ``SHELLOPTS``, ``BASHOPTS``, ``PS1``-``PS4``
#   and ``PROMPT_COMMAND`` (expanded or run), ``IFS``, ``CDPATH``, ``GLOBIGNORE``,
#   ``ZDOTDIR`` (zsh start-up files), and ``PATH``, ``HOME``, ``SHELL``;
# - git(1) ENVIRONMENT: the variables that name a program to run (``GIT_SSH``,
#   ``GIT_SSH_COMMAND``, ``GIT_ASKPASS``, ``GIT_EDITOR``, ``GIT_PAGER``,
#   ``GIT_EXTERNAL_DIFF``, ``GIT_PROXY_COMMAND`` …) or inject configuration
#   (``GIT_CONFIG*``: ``GIT_CONFIG_COUNT``/``KEY_n``/``VALUE_n`` can set
#   ``core.sshCommand``), ``GIT_DIR`` and ``GIT_EXEC_PATH``; ssh(1) ``SSH_ASKPASS``;
# - editors and pagers many tools start: ``EDITOR``, ``VISUAL``, ``PAGER``,
#   ``MANPAGER``, ``LESSOPEN``/``LESSCLOSE`` (less(1) input preprocessor), ``BROWSER``;
# - language runtimes' start-up hooks: ``NODE_OPTIONS`` (``--require``),
#   ``NODE_PATH``, Python's ``PYTHON…`` variables (``PYTHONPATH``, ``PYTHONSTARTUP``,
#   ``PYTHONHOME``, ``PYTHONBREAKPOINT`` …; python(1)), ``PERL5OPT``, ``PERL5LIB``,
#   ``PERLLIB``, ``PERL5DB``, ``RUBYOPT``, ``RUBYLIB``, ``JAVA_TOOL_OPTIONS``,
#   ``_JAVA_OPTIONS``, ``JDK_JAVA_OPTIONS``, ``CLASSPATH``, ``DOTNET_STARTUP_HOOKS``,
#   ``PHPRC``, ``PHP_INI_SCAN_DIR``, ``LUA_INIT``, ``GOFLAGS`` (``-toolexec``),
#   ``RUSTC_WRAPPER``, npm's ``NPM_CONFIG_*`` (``script-shell``, ``node-options``);
# - where credentials go or whom they trust: ``HTTP_PROXY``, ``HTTPS_PROXY``,
#   ``ALL_PROXY``, ``SSL_CERT_FILE``, ``SSL_CERT_DIR``, ``REQUESTS_CA_BUNDLE``,
#   ``CURL_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``;
# - credctl's own ``CREDCTL_*`` (vault, backend, unlock material of a nested credctl).
#
# Derived names always contain an underscore (``NAME_FIELD``), so most one-word
# names above can only come from ``--prefix``; they are listed for completeness.

DANGEROUS_VARIABLES: Final = frozenset(
    {
        # glibc unsecvars.h (without the LD_ ones, covered by the prefix)
        "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN",
        "LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF",
        "RES_OPTIONS", "TMPDIR", "TZDIR",
        # shells
        "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS1", "PS2", "PS3", "PS4",
        "PROMPT_COMMAND", "IFS", "CDPATH", "GLOBIGNORE", "ZDOTDIR", "PATH", "HOME", "SHELL",
        # git, ssh
        "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_ASKPASS", "GIT_EDITOR",
        "GIT_SEQUENCE_EDITOR", "GIT_PAGER", "GIT_EXTERNAL_DIFF", "GIT_PROXY_COMMAND",
        "GIT_EXEC_PATH", "GIT_DIR", "GIT_WORK_TREE", "GIT_TEMPLATE_DIR", "SSH_ASKPASS",
        "SSH_ASKPASS_REQUIRE", "SSH_AUTH_SOCK",
        # editors, pagers, browsers
        "EDITOR", "VISUAL", "PAGER", "MANPAGER", "LESSOPEN", "LESSCLOSE", "BROWSER",
        # language runtimes
        "NODE_OPTIONS", "NODE_PATH", "PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB",
        "RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
        "CLASSPATH", "DOTNET_STARTUP_HOOKS", "PHPRC", "PHP_INI_SCAN_DIR", "LUA_INIT",
        "GOFLAGS", "RUSTC_WRAPPER",
        # proxies and trust
        "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    }
)  # fmt: skip
DANGEROUS_PREFIXES: Final = ("LD_", "DYLD_", "BASH_FUNC_", "GIT_CONFIG", "NPM_CONFIG_",
                             "CREDCTL_")  # fmt: skip
# PYTHONPATH, PYTHONSTARTUP …: "PYTHON" and letters; PYTHON_TOKEN (credential "python") is fine.
_PYTHON_VARIABLE: Final = re.compile(r"PYTHON[A-Z]+\Z")


def is_dangerous_variable(variable: str) -> bool:
    """True if `variable` changes how programs run (see `DANGEROUS_VARIABLES`)."""
    upper = variable.upper()
    return (
        upper in DANGEROUS_VARIABLES
        or upper.startswith(DANGEROUS_PREFIXES)
        or _PYTHON_VARIABLE.match(upper) is not None
    )


def check_derived_variable(variable: str, credential: str, field: str) -> str:
    """`variable`, a name derived from `credential` and `field`, unless it is dangerous.

    `InvalidInput` (exit 9) otherwise, naming the way to choose the name on purpose.
    """
    if is_dangerous_variable(variable):
        raise InvalidInput(
            f"field {shown(field)} of {shown(credential)} would be exported as {variable}, "
            "a variable that changes how programs run; credctl does not derive it",
            hint=f"to set it on purpose, name it: {credential}.{field}={variable} (env) or "
            f"--env {variable}={credential}.{field} (exec)",
        )
    return variable
