"""pytest settings shared by the unit tests and the notebooks run under nbval."""

from __future__ import annotations

import os
import time
from collections import defaultdict

# TensorFlow's start-up log lines go to stderr; keep them out of notebook outputs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Notebooks under test train in quick mode (fewer epochs, still real training).
os.environ.setdefault("GENRE_QUICK", "1")
# pytest-xdist workers side by side: each (and the notebook kernels it starts) takes its
# share of the cores, before anything imports TensorFlow
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    from genre_lib.machine import share_cores

    share_cores(int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))

_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_configure(config):
    # With pytest-xdist (-n), make the demo corpus once, in the controller, before the
    # workers start: two workers writing it at once would find each other's files.
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        from genre_lib.demo import ensure_demo_data

        ensure_demo_data()


def pytest_collectstart(collector):
    # stderr varies between machines (TensorFlow and library warnings): never compare it.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


def pytest_runtest_logreport(report):
    if report.nodeid.split("::")[0].endswith(".ipynb"):
        _notebook_seconds[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        terminalreporter.write_sep("-", "seconds per notebook")
        for name, seconds in sorted(_notebook_seconds.items()):
            terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
