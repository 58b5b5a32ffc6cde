#!/usr/bin/env python3
"""Set up and run the project with nothing but Python >= 3.11 installed.

    python3 dev.py serve [ARGS]   run the server (embedded PostgreSQL and Redis unless configured)
    python3 dev.py test [ARGS]    run the test suite
    python3 dev.py ARGS           run `catalog-import ARGS` (worker, migrate, integration create, ...)

The first run creates ``.venv`` and installs the project with its development tools into it; later runs
reinstall only when ``pyproject.toml`` changed.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CATALOG_IMPORT_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (this script may be started by an older Python)
        sys.exit("Python 3.11 or newer is needed")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the project and its development tools", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main() -> None:
    args = sys.argv[1:]
    ensure_environment()
    if args[:1] == ["test"]:
        command = [str(BIN / "python"), "-m", "pytest", *args[1:]]
    else:
        command = [str(BIN / "catalog-import"), *args]
    os.chdir(ROOT)
    if os.name == "nt":
        sys.exit(subprocess.run(command).returncode)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
