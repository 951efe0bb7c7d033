"""Without a terminal (a SLURM log), a long loop prints a line every 10% with an ETA."""
import io

from engine import progress as p


def test_a_log_gets_a_line_every_tenth_with_an_eta(monkeypatch):
    monkeypatch.setattr(p, "QUIET_SECONDS", 0)
    out = io.StringIO()
    bar = p.LineProgress(total=40, desc="heldout models", unit="models", stream=out)
    for _ in range(40):
        bar.update(1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("heldout models: 40/40 models (100%)")
    assert all("ETA" in line for line in lines)


def test_short_runs_stay_quiet_and_a_terminal_gets_tqdm(monkeypatch):
    out = io.StringIO()
    bar = p.LineProgress(total=5, desc="x", unit="epochs", stream=out)
    for _ in range(4):
        bar.update(1)
    assert out.getvalue() == ""  # under QUIET_SECONDS: nothing until the end
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert not isinstance(p.progress(3, "x"), p.LineProgress)
