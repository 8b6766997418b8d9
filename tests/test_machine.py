"""genre_lib.machine: what a run folder records of the machine that trained it."""

from __future__ import annotations

import numpy as np
import sklearn

from genre_lib.machine import VECTOR_FLAGS, cpu, describe, one_line, versions

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz
flags\t\t: fpu vme sse sse2 avx avx2 fma bmi2
"""


def test_cpu_reads_the_model_name_and_the_vector_flags(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    name, flags = cpu(path)
    assert name == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert flags == ["avx", "avx2", "fma"]  # in VECTOR_FLAGS order, the others ignored
    assert set(flags) <= set(VECTOR_FLAGS)


def test_cpu_without_cpuinfo_still_names_something(tmp_path):
    name, flags = cpu(tmp_path / "missing")
    assert name and flags == []


def test_versions_are_the_imported_libraries_versions():
    found = versions()
    assert found["numpy"] == np.__version__ and found["scikit-learn"] == sklearn.__version__


def test_describe_records_kernel_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    m = describe()
    assert m["kernel_env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2" and "TF_ENABLE_ONEDNN_OPTS" not in m["kernel_env"]
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in one_line(m)


def test_share_cores_divides_the_cores_and_leaves_a_users_setting_alone():
    import os

    from genre_lib.machine import THREAD_ENV, share_cores

    env = {"OMP_NUM_THREADS": "3"}
    threads = share_cores(2, env)
    assert threads == str(max(1, (os.cpu_count() or 1) // 2))
    assert env == {"OMP_NUM_THREADS": "3", **{n: threads for n in THREAD_ENV if n != "OMP_NUM_THREADS"}}
    assert share_cores(10 * (os.cpu_count() or 1), {}) == "1"  # never zero threads
