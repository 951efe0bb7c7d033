"""What every benchmark shares: timing side by side, peak memory of a phase, the machine."""
import os
import platform
import statistics
import threading
import time

import torch


def timed(fn):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def side_by_side(candidates, repeats):
    """Run each candidate once per round, `repeats` rounds, interleaved so that a change in the
    machine's load hits every candidate alike; returns {name: median seconds}."""
    seconds = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            seconds[name].append(timed(fn)[0])
    return {name: statistics.median(v) for name, v in seconds.items()}


# ---- memory ------------------------------------------------------------------------------------

def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _reset_peak():
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakRSS:
    """Peak resident memory (MiB) while the block runs, and its rise over the memory at entry.

    Uses the kernel's own peak mark (reset through /proc/self/clear_refs), else samples RSS every
    2 ms. Memory the allocator kept from earlier phases and reuses does not show as a rise, so
    `rise_mib` is a lower bound of what the phase needs; `peak_mib` is exact for the process."""

    def __enter__(self):
        self.start_mib = (_status_kb("VmRSS") or 0) / 1024
        self.kernel = _reset_peak() and _status_kb("VmHWM") is not None
        self._peak_kb, self._stop = 0, threading.Event()
        if not self.kernel:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self._peak_kb = max(self._peak_kb, _status_kb("VmRSS") or 0)
            time.sleep(0.002)

    def __exit__(self, *exc):
        if self.kernel:
            peak_kb = _status_kb("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            peak_kb = max(self._peak_kb, _status_kb("VmRSS") or 0)
        self.peak_mib = peak_kb / 1024
        self.rise_mib = max(0.0, self.peak_mib - self.start_mib)
        return False

    def record(self):
        return {"peak_rss_mib": round(self.peak_mib, 1), "rise_mib": round(self.rise_mib, 1),
                "memory_measure": "VmHWM (clear_refs)" if self.kernel else "RSS sampled every 2 ms"}


# ---- the machine -------------------------------------------------------------------------------

def _cpuinfo(field):
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model():
    return _cpuinfo("model name") or platform.processor() or "unknown"


def simd():
    flags = set((_cpuinfo("flags") or "").split())
    return [f for f in ("avx512f", "avx2", "fma") if f in flags]


def machine():
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    mhz = _cpuinfo("cpu MHz")
    return {"cpu": cpu_model(), "cpu_mhz": float(mhz) if mhz else None, "simd": simd(),
            "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average_at_start": load}
