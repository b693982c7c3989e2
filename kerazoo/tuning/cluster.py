"""Distributed searches: KerasTuner's chief/worker mode. The chief serves the oracle over gRPC; the
workers ask it for trials, train them and report back.

Importing this module imports neither TensorFlow nor gRPC.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import time

from kerazoo.errors import ChiefUnreachableError, TuningError

__all__ = ["parse_address", "role_of", "kerastuner_env", "wait_for_chief", "check_same_space", "serve_oracle"]

_KT_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def parse_address(address: str) -> tuple[str, int]:
    """`"HOST:PORT"` (or `"[::1]:PORT"`) -> `(host, port)`."""
    host, sep, port = str(address).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TuningError(f"Expected the chief's address as HOST:PORT (e.g. 127.0.0.1:8000), received {address!r}")
    return host, int(port)


def role_of(chief, worker) -> tuple[str, str | None, str | None]:
    """`(role, "host:port", KerasTuner tuner id)` from the arguments or the KERASTUNER_* variables."""
    if worker is not None and chief is None:
        if "KERASTUNER_ORACLE_IP" not in os.environ:
            raise TuningError("A worker needs the chief's address: --chief HOST:PORT (or KERASTUNER_ORACLE_IP/PORT).")
        chief = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ.get('KERASTUNER_ORACLE_PORT', '')}"
    if chief is not None:
        host, port = parse_address(chief)
        if worker is None:
            return "chief", f"{host}:{port}", "chief"
        worker = str(worker)
        if not re.fullmatch(r"[A-Za-z0-9_-]+", worker) or "chief" in worker:
            raise TuningError(f"Worker IDs are letters, digits, '-' or '_' (not 'chief'), received {worker!r}")
        return "worker", f"{host}:{port}", worker if worker.startswith("tuner") else f"tuner{worker}"
    if "KERASTUNER_ORACLE_IP" in os.environ:  # a cluster launcher set KerasTuner's variables itself
        missing = [k for k in _KT_ENV if not os.environ.get(k)]
        if missing:
            raise TuningError(f"KERASTUNER_ORACLE_IP is set but {', '.join(missing)} is not; set all of "
                              f"{', '.join(_KT_ENV)}.")
        host, port = parse_address(f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}")
        tuner_id = os.environ["KERASTUNER_TUNER_ID"]
        return ("chief" if "chief" in tuner_id else "worker"), f"{host}:{port}", tuner_id
    return "local", None, None


@contextlib.contextmanager
def kerastuner_env(role, address, tuner_id):
    """KerasTuner reads its role from the environment: set it for the search, restore it after."""
    saved = {k: os.environ.get(k) for k in _KT_ENV}
    if role != "local":
        host, port = parse_address(address)
        os.environ.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_for_chief(address: str, timeout: float) -> None:
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise ChiefUnreachableError(
            f"No KerasTuner chief answered at {address} within {timeout:g} s. Start it first "
            f"(kerazoo tune NAME --chief {address}), check the host and port, or wait longer "
            f"(--chief-timeout).") from None
    finally:
        channel.close()


def check_same_space(search, address: str) -> None:
    """A worker whose config differs from the chief's would train other models than the oracle thinks."""
    import keras_tuner as kt

    mine = kt.HyperParameters()
    search.hypermodel.space.declare(mine)
    theirs = search.oracle.get_space()  # an RPC to the chief
    names = lambda hp: sorted(p.name for p in hp.space if not p.name.startswith("tuner/"))  # noqa: E731
    if names(mine) != names(theirs):
        raise TuningError(f"This worker's search space differs from the chief's at {address}: worker has "
                          f"{names(mine)}, chief has {names(theirs)}. Run the same kerazoo version and config.")


def serve_oracle(oracle, address: str, *, linger: float = 30.0, poll: float = 0.5) -> None:
    """Serves the oracle to the workers until the search is done.

    KerasTuner's own `oracle_chief.start_server` is used as is except for three things: a port
    that cannot be bound is an error (not a silent hang), the exit check polls every `poll`
    seconds (not 20), and once every trial has finished, workers that never ask again (crashed,
    killed) are waited for at most `linger` seconds.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise TuningError(f"The chief cannot listen on {address} (port in use, or not an address of this machine).")
    server.start()
    idle_since = None
    try:
        while True:
            time.sleep(poll)
            if not servicer.stop_triggered or oracle.ongoing_trials:
                idle_since = None
                continue
            if oracle_chief.exit_chief(oracle):
                break
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > linger:
                print(f"kerazoo tune: workers {sorted(oracle.tuner_ids)} did not come back for {linger:g} s; "
                      "the search is complete, stopping the chief.", file=sys.stderr)
                break
    finally:
        server.stop(grace=2).wait()
