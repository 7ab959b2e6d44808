"""pytester (pytest's own fixture) runs the pytest plugin's tests in a pytest of their own."""

pytest_plugins = ["pytester"]
