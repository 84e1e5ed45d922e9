"""bench/resume_safety.py replays the hang and resume cases with the real commands; its quick cases run here."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository


def test_quick_cases_pass():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "resume_safety.py"), "--case", "fifo-eval", "--case",
                           "ray-unreachable"], capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("PASS  fifo-eval: exit 1") and "2 of 2 cases pass" in proc.stdout
