"""The install script finds Python 3.10 or says clearly what to install."""
from __future__ import annotations

import os
import shutil
import subprocess

from bot import settings


def test_missing_python310_is_reported_with_what_to_install(tmp_path):
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(settings.PROJECT_ROOT / "scripts" / "setup-venv.sh", root / "scripts")
    (root / "requirements.lock").write_text("# empty\n")
    (root / "requirements.nodeps.txt").write_text("# empty\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sha256sum", "cut", "cat", "dirname", "date", "mktemp", "grep", "tail"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home")}
    result = subprocess.run(["bash", str(root / "scripts" / "setup-venv.sh")], cwd=root, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Python 3.10 is required" in result.stderr
    assert "pyenv install 3.10" in result.stderr
    assert not (root / ".venv").exists()


def test_the_venv_is_not_reinstalled_when_the_requirement_files_are_unchanged():
    result = subprocess.run(["bash", "scripts/setup-venv.sh"], cwd=settings.PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == ""  # nothing to do, nothing printed
