"""Transfer figures of `kerazoo pull` from an HTTP mirror on the loopback interface.

    python benchmarks/mirrors.py [--artifacts lenet5.mnist dbn.mnist] [--repeats 3]

Each artifact is pushed (`kerazoo.push`) into a throwaway folder mirror served by the standard library's
http.server on 127.0.0.1 (`kerazoo.loopback.LoopbackServer`, with Range support). Then, per artifact:

- `pull`: `kerazoo.pull` into an empty store, end to end (index, every file downloaded and checked
  against the index's sha256, the folder assembled, verified against its card and switched in),
  `--repeats` times, each into a fresh store; MB/s = artifact bytes / seconds (MB = 10^6 bytes).
- `http only`: the same files fetched with `requests` and thrown away (no hashing, no disk), the
  transfer alone, for comparison.
- `resume`: the server drops the connection halfway through the artifact's largest file, once; the
  pull resumes. Recorded: bytes the server sent for that file, bytes sent twice (re-fetched), extra
  requests. The same with a server that ignores Range (`python -m http.server` does) shows what a
  restart costs.

Also records what ships in the wheel: the bytes of `saved_models/` and, built here with
`python -m build --wheel` (skip with `--no-wheel`), the wheel's size (PyPI's default limit: 100 MB).

Writes benchmarks/results/mirrors.json with the machine's load average before and after and the
versions of requests and urllib3. Loopback figures are an upper bound: no network latency or limit.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _entry(mirror: Path, name: str) -> dict:
    return json.loads((mirror / "index.json").read_text())["artifacts"][name]


def _http_only(url: str, name: str, entry: dict) -> float:
    import requests

    with requests.Session() as session:
        start = time.perf_counter()
        for rel in ["card.json", *entry["files"]]:
            with session.get(f"{url}/{name}/{rel}", stream=True, headers={"Accept-Encoding": "identity"}) as r:
                for _ in r.iter_content(1 << 16):
                    pass
        return time.perf_counter() - start


def _pull(url: str, name: str, work: Path) -> float:
    import kerazoo

    store = Path(tempfile.mkdtemp(dir=work))
    start = time.perf_counter()
    kerazoo.pull(url, name, destination=store, progress=False)
    return time.perf_counter() - start


def _resume(mirror: Path, name: str, entry: dict, work: Path, ranges: bool) -> dict:
    import kerazoo
    from kerazoo.loopback import LoopbackServer

    rel, rec = max(entry["files"].items(), key=lambda item: item[1]["bytes"])
    path, cut = f"/{name}/{rel}", rec["bytes"] // 2
    with LoopbackServer(mirror, ranges=ranges) as server:
        server.cut[path] = cut
        store = Path(tempfile.mkdtemp(dir=work))
        start = time.perf_counter()
        kerazoo.pull(server.url, name, destination=store, progress=False)
        seconds = time.perf_counter() - start
        requests = [r for r in server.log if r["path"] == path]
        sent = server.sent(path)
    return {"file": rel, "file_bytes": rec["bytes"], "cut_after_bytes": cut, "server_ranges": ranges,
            "bytes_sent_for_file": sent, "bytes_refetched": sent - rec["bytes"], "requests_for_file": len(requests),
            "ranges_asked": [r["range"] for r in requests], "pull_seconds": round(seconds, 3)}


def measure(name: str, repeats: int, work: Path) -> dict:
    import kerazoo
    from kerazoo.loopback import LoopbackServer

    mirror = work / f"mirror-{name}"
    kerazoo.push(name, mirror)
    entry = _entry(mirror, name)
    size = entry["card"]["bytes"] + sum(r["bytes"] for r in entry["files"].values())
    with LoopbackServer(mirror) as server:
        _pull(server.url, name, work)  # warm-up: imports, page cache
        pulls = [_pull(server.url, name, work) for _ in range(repeats)]
        http = [_http_only(server.url, name, entry) for _ in range(repeats)]

    def summary(seconds):
        rates = sorted(size / 1e6 / s for s in seconds)
        return {"seconds": [round(s, 3) for s in seconds], "mb_per_s_median": round(statistics.median(rates), 1),
                "mb_per_s_range": [round(rates[0], 1), round(rates[-1], 1)]}

    return {"artifact": name, "bytes": size, "file_count": 1 + len(entry["files"]), "pull": summary(pulls),
            "http_only": summary(http),
            "resume": _resume(mirror, name, entry, work, ranges=True),
            "restart_without_range": _resume(mirror, name, entry, work, ranges=False)}


def wheel(work: Path) -> dict:
    """The shipped artifacts' bytes, and the size of the wheel `python -m build --wheel` makes of this checkout."""
    shipped = REPO / "saved_models"
    record = {"saved_models_bytes": sum(p.stat().st_size for p in shipped.rglob("*") if p.is_file()),
              "shipped_artifacts": sorted(p.name for p in shipped.iterdir() if (p / "card.json").is_file())}
    had_build = (REPO / "build").exists()
    out = work / "wheel"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)], check=True,
                   stdout=subprocess.DEVNULL)
    if not had_build:
        shutil.rmtree(REPO / "build", ignore_errors=True)
    built = next(out.glob("*.whl"))
    return {**record, "wheel": built.name, "wheel_bytes": built.stat().st_size}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", nargs="+", default=["lenet5.mnist", "dbn.mnist"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-wheel", action="store_true", help="do not build the wheel")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "mirrors.json"))
    args = parser.parse_args(argv)
    import requests
    import urllib3

    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
               "loadavg_before": [round(x, 2) for x in os.getloadavg()],
               "versions": {"requests": requests.__version__, "urllib3": urllib3.__version__}}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KERAZOO_MODELS"] = str(Path(tmp) / "user-store")  # never the real one
        results = [measure(name, args.repeats, Path(tmp)) for name in args.artifacts]
        package = None if args.no_wheel else wheel(Path(tmp))
    machine["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print("| pull from 127.0.0.1 | bytes | files | pull MB/s, median | range | HTTP only MB/s | cut at half: bytes "
          "re-fetched | without Range |")
    for r in results:
        print(f"| {r['artifact']} | {r['bytes']:,} | {r['files']} | {r['pull']['mb_per_s_median']} | "
              f"{r['pull']['mb_per_s_range'][0]}-{r['pull']['mb_per_s_range'][1]} | "
              f"{r['http_only']['mb_per_s_median']} | {r['resume']['bytes_refetched']:,} | "
              f"{r['restart_without_range']['bytes_refetched']:,} |")
    if package:
        print(f"wheel {package['wheel']}: {package['wheel_bytes']:,} bytes; saved_models/ {package['saved_models_bytes']:,}")
    Path(args.output).write_text(json.dumps({"machine": machine, "repeats": args.repeats, "artifacts": results,
                                             "package": package}, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
