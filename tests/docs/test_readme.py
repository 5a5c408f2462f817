"""The README's example runs, and its two commands are the ones CI runs."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_python_blocks_run(tmp_path):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README should show a runnable example"
    script = tmp_path / "readme_example.py"
    script.write_text("\n\n".join(blocks))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    bash = re.findall(r"```bash\n(.*?)```", readme, re.S)[0]
    commands = [line for line in bash.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, "the README opens with two commands: the main job and the tests"
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines(), f"{commands[1]!r} is not a line of .ci/run"
    assert "graphcompare run" in commands[0]
