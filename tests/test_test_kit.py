"""The test kit stays a kit: shared helpers live in ``tests/support/`` or ``otel_secretary.testing``,
a package's own in its conftest or a helper module.

A test package that imports another one's conftest or test module couples two suites that look
independent (moving a fixture breaks a package nobody touched) and makes pytest import test modules
twice under different names. ``otel_secretary.testing`` is shipped, so it must import without a test
framework or the SMTP extra, and nothing the app runs may import it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support.processes import REPO, clean_env

TESTS = REPO / "tests"
#: Test packages may import these; they are no test package's own.
SHARED = {"support", "apps"}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (module level or in functions)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            if node.module:
                found.add(base)
            else:  # ``from . import x``: the names are modules
                found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def owner(module: str) -> str | None:
    """The test package a ``tests.*`` module belongs to ("" for top-level test modules)."""
    parts = module.split(".")
    if parts[0] != "tests" or len(parts) < 2:
        return None
    return parts[1] if (TESTS / parts[1]).is_dir() else ""


def test_no_test_package_imports_another_test_package() -> None:
    crossings = []
    for path in sorted(TESTS.rglob("*.py")):
        mine = path.relative_to(TESTS).parts[0] if path.parent != TESTS else ""
        allowed = SHARED | {mine} if mine not in SHARED else SHARED
        for module in sorted(imported_modules(path)):
            theirs = owner(module)
            if theirs is not None and theirs not in allowed and module != "tests":
                crossings.append(f"{path.relative_to(REPO)} imports {module}")
    assert not crossings, "move the shared helper to tests/support/:\n" + "\n".join(crossings)


def test_no_module_imports_a_test_module() -> None:
    """Shared code inside a package goes in its conftest or a helper module, never in a ``test_*`` file."""
    wrong = []
    for path in sorted(TESTS.rglob("*.py")):
        itself = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for module in sorted(imported_modules(path)):
            is_test_module = module.split(".")[0] == "tests" and module.rsplit(".", 1)[-1].startswith("test_")
            if is_test_module and module != itself:  # a module may re-import itself in a child process
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_examples_and_the_package_never_import_the_tests() -> None:
    wrong = [
        f"{path.relative_to(REPO)} imports {module}"
        for root in (REPO / "examples", REPO / "otel_secretary")
        for path in sorted(root.rglob("*.py"))
        for module in sorted(imported_modules(path))
        if module == "tests" or module.startswith("tests.")
    ]
    assert not wrong, "\n".join(wrong)


def test_only_tests_and_examples_import_the_kit() -> None:
    package = REPO / "otel_secretary"
    users = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in sorted(package.rglob("*.py"))
        if "testing" not in path.relative_to(package).parts
        for module in sorted(imported_modules(path))
        if module.startswith("otel_secretary.testing")
    ]
    assert not users, "\n".join(users)


def test_the_kit_imports_without_a_test_framework_or_the_smtp_extra() -> None:
    # None in sys.modules makes any import of that name raise ImportError.
    program = (
        "import sys\n"
        "for name in ('pytest', 'aiosmtpd', 'hypothesis', 'tests', 'examples'):\n"
        "    sys.modules[name] = None\n"
        "import otel_secretary.testing\n"
        "from otel_secretary.testing import processes, receivers\n"
        "from otel_secretary.testing.local_services import calendar_api, openai_api, stripe_errors\n"
        "with openai_api.start() as svc, receivers.HttpReceiver() as hook:\n"
        "    print(svc.url.startswith('http://127.0.0.1:'), hook.url.startswith('http://127.0.0.1:'))\n"
        "try:\n"
        "    receivers.SmtpMailbox()\n"
        "except ImportError as exc:\n"
        "    print('smtp needs', exc.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], env=clean_env(), cwd="/", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["True True", "smtp needs aiosmtpd.controller"], done.stdout
