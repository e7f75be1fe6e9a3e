"""credctl's tests: a package, so that tests.conftest is one module however it is reached."""
