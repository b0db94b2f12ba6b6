"""Make N small, real git repositories (a Python package, a README, a JS helper; a few commits each).

    .venv/bin/python bench/make_repos.py --count 200 --out bench/.work/repos

Each repository differs a little (names, constants) so chunks and vectors are not all identical.
Prints the output folder; repositories are named repo-0000, repo-0001, ...
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from _common import WORK

ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Bench Author",
       "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench Author",
       "GIT_COMMITTER_EMAIL": "bench@example.com"}


def _files(i: int) -> dict[str, str]:
    name = f"service{i:04d}"
    return {
        "README.md": f"# {name}\n\nHandles invoices for tenant {i}.\n\n## Install\n\nRun `pip install {name}`.\n",
        f"{name}/__init__.py": f'"""{name} package."""\n',
        f"{name}/invoices.py": (
            '"""Invoice helpers."""\nimport decimal\n\n\n'
            "def compute_invoice_total(lines):\n"
            '    """Sum the price of every invoice line, tax included."""\n'
            f"    return sum(decimal.Decimal(l.price) * (1 + l.tax_rate) for l in lines) + {i}\n\n\n"
            "class InvoiceRepository:\n"
            '    """Stores invoices."""\n\n'
            "    def __init__(self, db):\n        self.db = db\n\n"
            "    def find_overdue_invoices(self, today):\n"
            "        return [inv for inv in self.db if inv.due < today]\n"
        ),
        "web/format.js": (
            f"// Formatting helpers for {name}\n"
            "export function formatAmount(cents) {\n"
            "  return (cents / 100).toFixed(2);\n}\n"
        ),
        "pyproject.toml": f'[project]\nname = "{name}"\nversion = "0.{i}.0"\ndependencies = ["requests>=2"]\n',
    }


def make_repo(root: Path, i: int) -> Path:
    path = root / f"repo-{i:04d}"
    if (path / ".git").exists():
        return path
    path.mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, env=ENV, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    for rel, content in _files(i).items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(content)
    git("add", "-A")
    git("commit", "-q", "-m", "initial commit")
    (path / "CHANGELOG.md").write_text(f"# Changes\n\n- {i}: first release\n")
    git("add", "-A")
    git("commit", "-q", "-m", "changelog")
    return path


def make_repos(count: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [make_repo(out, i) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--out", type=Path, default=WORK / "repos")
    args = parser.parse_args()
    make_repos(args.count, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
