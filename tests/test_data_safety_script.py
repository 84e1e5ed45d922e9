"""bench/data_safety.py replays the data-loss cases with the real commands; its trimap case runs here (fast)."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository


def test_trimap_case_passes():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "data_safety.py"), "--case", "trimap"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("PASS  trimap: exit 2") and "1 of 1 cases pass" in proc.stdout


def test_single_file_cases_pass():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "data_safety.py"), "--case",
                           "eval-json-onto-ground-truth", "--case", "single-file-not-ours"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 cases pass" in proc.stdout and proc.stdout.count("PASS  ") == 2
