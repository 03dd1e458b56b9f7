"""The `cluster` extra: a default install has no Celery or Redis client, so every module outside
pipeline/cluster/ must do without them, and a command that needs them says what to install.

The missing packages are simulated in a subprocess by a finder that refuses to import them, as
Python does when a package is not installed; the commands then run through the real CLI.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.cluster import NEEDS
from pipeline.console import missing_extra

from conftest import FAST_SETTINGS

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"
INSTALL = "pip install 'testimony-pipeline[cluster]'"

BLOCK = f"""
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {NEEDS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
"""

RUN = (
    BLOCK
    + """
import json
from typer.testing import CliRunner
from pipeline.cli import app

results = {}
for name, args in json.loads(sys.argv[1]).items():
    result = CliRunner().invoke(app, args)
    results[name] = {"code": result.exit_code, "output": result.output,
                     "raised": repr(result.exception) if result.exception
                     and not isinstance(result.exception, SystemExit) else None}
results["imported"] = sorted(m for m in sys.modules if m.partition(".")[0] in {"celery", "kombu", "redis"})
print(json.dumps(results))
"""
)


def test_no_module_outside_the_cluster_package_imports_its_packages():
    """Read from the source, so an import inside a function counts as well."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if "cluster" in path.relative_to(PACKAGE).parts[:-1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            found += [f"{path.name}: {n}" for n in names if n and n.partition(".")[0] in NEEDS]
    assert not found


def test_without_the_cluster_extra_commands_say_what_to_install(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "testimony.toml").write_text(FAST_SETTINGS)
    recording = tmp_path / "KZ-1_a.wav"
    recording.write_bytes(b"RIFF")
    broker = "redis://:secret@127.0.0.1:6379/0"
    commands = {
        "worker": ["worker", "--broker", broker],
        "process": ["process", str(recording)],
        "retranscribe": ["retranscribe", "--all"],
    }
    env = {
        **os.environ,
        "TESTIMONY_HOME": str(home),
        "TESTIMONY_BROKER": broker,
        "PYTHONPATH": str(PACKAGE.parent),
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(commands)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    assert results.pop("imported") == []
    for name, result in results.items():
        assert result["raised"] is None, (name, result)
        assert INSTALL in result["output"], (name, result["output"])
        assert "Traceback" not in result["output"]
        assert result["code"] == 1


def test_with_the_cluster_extra_nothing_is_missing_before_or_after_the_broker_is_imported():
    """A coordinator checks again after its preflight imported Celery (`link`, `retry`)."""
    assert missing_extra("cluster", *NEEDS) is None
    from pipeline.cluster import broker  # noqa: F401  (imports celery, kombu and redis)

    assert missing_extra("cluster", *NEEDS) is None
