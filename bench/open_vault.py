"""Open a vault once in a fresh process: the unit that bench_unlock.py times.

Usage:  python bench/open_vault.py [VAULT]      (default: $CREDCTL_VAULT)

The unlock source comes from the environment exactly as for credctl itself
(CREDCTL_SESSION, CREDCTL_KEY, CREDCTL_PASSPHRASE_FILE, CREDCTL_PASSPHRASE).
Prints the name of the source that opened the vault, so that a benchmark can
check that it measured the source it meant to.
"""

import os
import sys

from credctl.vault import EnvironmentUnlocker, Vault


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ["CREDCTL_VAULT"]
    opened = Vault(path).open(EnvironmentUnlocker(env=os.environ))
    sys.stdout.write(opened.source + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
