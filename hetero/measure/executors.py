"""Executors (serial, process pool, dask) and the scheduler that feeds them runs.

Every executor is a :class:`concurrent.futures.Executor`, so any executor works from Python
(``measure(..., executor=my_executor)``). The scheduler keeps the run store single-writer:
workers get the unit's data and, for transfer runs, the source state as ``.npz`` bytes, and
return their result; the driver process writes each finished run in its own transaction.
A transfer run is submitted as soon as its source run's state is stored.

This module imports no numpy at import time, so that a spawned worker can limit its thread
pools before numpy (or torch) loads.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXECUTORS",
    "ExecutorHandle",
    "RunEvent",
    "SerialExecutor",
    "default_workers",
    "execute_run",
    "make_executor",
    "run_specs",
    "unguarded_main_script",
    "worker_threads",
]

EXECUTORS: tuple[str, ...] = ("serial", "process", "dask")

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def default_workers() -> int:
    """Cores available to this process (one worker per core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def limit_worker_threads(threads: int = 1) -> None:
    """Limit the BLAS, OpenMP and torch thread pools of this worker process to ``threads``.

    Runs as the initializer of every process-pool and dask worker. The environment
    variables cover libraries imported later (torch reads ``OMP_NUM_THREADS`` when it
    starts its pool), threadpoolctl those already loaded, so learners need do nothing.
    """
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    _limit_loaded_pools(threads)


def _limit_loaded_pools(threads: int) -> Any:
    """Limit the pools of libraries already imported; return threadpoolctl's limiter."""
    limiter = None
    if "numpy" in sys.modules or "torch" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits

            limiter = threadpool_limits(threads)
        except ImportError:  # pragma: no cover
            pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return limiter


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """Exit this worker when the driver process is gone (e.g. killed with SIGKILL)."""
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)


def _process_worker_init() -> None:
    """Process-pool worker start: one thread, the CLI's allocator settings
    (:func:`hetero.malloc.tune_malloc`), leave Ctrl-C to the driver process, and do not
    outlive it (a killed driver would otherwise leave workers blocked on their queue)."""
    import signal
    import threading

    from hetero.malloc import tune_malloc

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_worker_threads(1)
    tune_malloc()
    watcher = threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True)
    watcher.start()


@contextlib.contextmanager
def worker_threads(threads: int = 1) -> Iterator[None]:
    """Run a block with the thread limits of a worker, then restore the caller's.

    The serial executor runs each call under this, so its results are bit-identical to the
    process and dask executors': a reduction split over two threads sums in another order
    than over one (seen as differences up to 6e-4 in T with the torch probes).
    """
    saved_env = {v: os.environ.get(v) for v in _THREAD_VARS}
    torch = sys.modules.get("torch")
    saved_torch = torch.get_num_threads() if torch is not None else None
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    limiter = _limit_loaded_pools(threads)
    try:
        yield
    finally:
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        if limiter is not None:
            limiter.restore_original_limits()
        torch = sys.modules.get("torch")  # a learner may have imported it meanwhile
        if torch is not None:
            # torch imported inside the block had no setting of the caller's to restore
            torch.set_num_threads(saved_torch or default_workers())


class SerialExecutor(cf.Executor):
    """Runs each submitted call immediately in the calling process, as a worker would.

    Each call runs with one thread (:func:`worker_threads`), like a process-pool worker,
    so that serial and parallel measurements give identical numbers.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        if not future.set_running_or_notify_cancel():  # pragma: no cover
            return future
        try:
            with worker_threads(1):
                result = fn(*args, **kwargs)
            future.set_result(result)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            future.set_exception(exc)
        return future


@dataclass
class ExecutorHandle:
    """An executor with its kind, worker count and a ``close`` that frees its resources."""

    executor: cf.Executor
    kind: str
    workers: int
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    def close(self, *, cancel: bool = False) -> None:
        if cancel and isinstance(self.executor, cf.ProcessPoolExecutor):
            # Ctrl-C: do not wait for runs in flight (they are lost, finished ones are stored)
            for proc in list(getattr(self.executor, "_processes", {}).values()):
                proc.terminate()
        try:
            self.executor.shutdown(wait=not cancel, cancel_futures=cancel)
        except TypeError:  # executors without cancel_futures
            self.executor.shutdown(wait=not cancel)
        for closer in self._closers:
            try:
                closer()
            except Exception:  # pragma: no cover - best effort on teardown
                pass

    def __enter__(self) -> ExecutorHandle:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(cancel=exc_type is not None)


def make_executor(
    kind: str = "serial", *, workers: int | None = None, scheduler: str | None = None
) -> ExecutorHandle:
    """Create an executor by name.

    Parameters
    ----------
    kind : {"serial", "process", "dask"}
    workers : int, optional
        Worker processes (default: one per core). Ignored by ``serial`` and by ``dask`` with
        ``scheduler`` (the cluster decides).
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``); a local cluster otherwise.
    """
    from hetero.errors import HeteroError

    if kind not in EXECUTORS:
        raise HeteroError(f"unknown executor {kind!r} (valid: {', '.join(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise HeteroError(f"workers: expected at least 1, got {workers}")
    if scheduler is not None and kind != "dask":
        raise HeteroError("--scheduler needs --executor dask")
    if kind == "serial":
        return ExecutorHandle(SerialExecutor(), "serial", 1)
    n = workers or default_workers()
    if kind == "process":
        import multiprocessing as mp

        script = unguarded_main_script()
        if script is not None:  # each spawned worker would start the measurement again
            raise HeteroError(_guard_message(script))

        ex = cf.ProcessPoolExecutor(
            max_workers=n, mp_context=mp.get_context("spawn"), initializer=_process_worker_init
        )
        return ExecutorHandle(ex, "process", n)
    try:
        import logging

        from distributed import Client, LocalCluster
    except ImportError:
        raise HeteroError(
            "--executor dask needs dask.distributed (pip install 'hetero[distributed]')"
        ) from None
    closers: list[Callable[[], Any]] = []
    if scheduler:
        try:
            client = Client(scheduler, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise HeteroError(f"cannot connect to dask scheduler {scheduler!r} ({exc})") from None
        closers.append(client.close)
    else:
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
        closers += [client.close, cluster.close]
    client.run(limit_worker_threads)
    n_workers = len(client.scheduler_info().get("workers", {})) or n
    return ExecutorHandle(client.get_executor(pure=False), "dask", n_workers, closers)


def unguarded_main_script() -> str | None:
    """The ``__main__`` script when spawned workers would re-run all its top-level code.

    A ``spawn`` worker imports the parent's main script (as ``__mp_main__``) before it
    runs anything; a script that calls :func:`hetero.measure.measure` at top level, without
    ``if __name__ == "__main__":``, would start the measurement again in every worker, and
    the pool breaks (``BrokenProcessPool``). Returns the script's path when it has no
    comparison of ``__name__`` with ``"__main__"`` anywhere; None when it has one, when
    workers do not import it (an interactive session, ``python -c``, ``python -m
    pkg``) or when it cannot be read.
    """
    import ast

    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if spec_name is not None and (spec_name == "__main__" or spec_name.endswith(".__main__")):
        return None  # multiprocessing does not re-import a package's __main__
    path = getattr(main, "__file__", None)
    if not isinstance(path, str) or os.path.basename(path).startswith("ipython"):
        return None
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(2_000_000))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            names = {o.id for o in operands if isinstance(o, ast.Name)}
            consts = {o.value for o in operands if isinstance(o, ast.Constant)}
            if "__name__" in names and "__main__" in consts:
                return None
    return path


def _guard_message(script: str | None) -> str:
    where = f"script {script}" if script else "the main script"
    return (
        f"executor 'process': worker processes import the {where}, which starts the "
        "measurement again in each of them; put the code that calls measure() under "
        "`if __name__ == \"__main__\":` (or use executor='serial')"
    )


def _broken_pool_error(handle: ExecutorHandle, exc: BaseException) -> Exception:
    """A one-line HeteroError for a process pool that broke (never a traceback)."""
    from hetero.errors import HeteroError

    script = unguarded_main_script()
    if script is not None:
        return HeteroError(_guard_message(script))
    return HeteroError(
        f"executor {handle.kind!r}: a worker process died abruptly ({exc or type(exc).__name__}; "
        "killed, or out of memory?); finished runs are stored and the next measure resumes "
        "from them (fewer --workers, or executor 'serial', use less memory)"
    )


# --------------------------------------------------------------------------- worker side
def _versions(learner: Any) -> dict[str, str]:
    import numpy as np

    from hetero import __version__

    out = {
        "hetero": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "learner_class": f"{type(learner).__module__}.{type(learner).__qualname__}",
    }
    if "torch" in sys.modules:
        out["torch"] = str(sys.modules["torch"].__version__)
    return out


#: Seed offset of a scratch run retrained after failing the quality gate (per retry).
_RESEED_STRIDE = 100_003


def execute_run(
    spec: Any,
    learner: Any,
    learner_config: dict[str, Any],
    task: Any,
    source_state: bytes | None,
    reseed: int = 0,
) -> dict[str, Any]:
    """Train one run (in a worker); return a plain dict (never raises for run errors).

    ``learner`` is a registered learner name or a Learner class (pickled by reference, so
    an unregistered but importable class works in every executor). A scratch run is checked
    against the quality gate (:mod:`hetero.measure.quality`); ``reseed`` > 0 retrains one
    that failed it from another seed.
    """
    start = time.perf_counter()
    factory, learner = learner, None
    try:
        from hetero.learners import get_learner, state_from_bytes, state_to_bytes
        from hetero.suite import Unit

        if isinstance(factory, str):
            learner = get_learner(factory, **learner_config)
        else:
            learner = factory(**learner_config)
        init = state_from_bytes(source_state) if source_state is not None else None
        res = learner.fit(
            task,
            Unit.parse(spec.unit),
            seed=spec.seed + _RESEED_STRIDE * reseed,
            init_state=init,
            mode=spec.mode,
            keep_head=spec.keep_head,
            max_epochs=spec.max_epochs,
            return_state=spec.save_state,
        )
        state = None
        if spec.save_state:
            if res.state is None:
                raise RuntimeError("learner returned no state although return_state=True")
            state = state_to_bytes(res.state)
        info = dict(res.info or {})
        if spec.kind == "scratch":
            from hetero.measure.quality import gate

            info["gate"] = {**gate(task, res.val_loss), "reseed": reseed}
        return {
            "status": "ok",
            "val_loss": res.val_loss,
            "val_metric": res.val_metric,
            "metric": getattr(task, "metric", None),
            "curve": res.curve,
            "epochs": res.epochs,
            "best_epoch": res.best_epoch,
            "converged": res.converged,
            "info": info,
            "wall_time": time.perf_counter() - start,
            "versions": _versions(learner),
            "state": state,
        }
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
        return {
            "status": "failed",
            "error": " ".join(f"{type(exc).__name__}: {exc}{where}".split()),
            "wall_time": time.perf_counter() - start,
            "versions": _versions(learner) if learner is not None else {},
        }


# --------------------------------------------------------------------------- scheduler
@dataclass
class RunEvent:
    """What the scheduler reports after each finished (or skipped) run."""

    spec: Any
    status: str  # ok | failed | retry | skipped | cached
    record: Any = None
    done: int = 0
    total: int = 0


@dataclass
class RunStats:
    """Counts of one :func:`run_specs` call."""

    total: int = 0
    cached: int = 0
    trained: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    gate_retried: int = 0
    gate_failed: int = 0
    wall_time: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    gate_failures: list[str] = field(default_factory=list)

    def add(self, other: RunStats) -> None:
        """Add the counts and failures of another batch (the wall time is the caller's)."""
        for f in dataclasses.fields(self):
            if f.name != "wall_time":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "cached": self.cached,
            "trained": self.trained,
            "failed": self.failed,
            "skipped": self.skipped,
            "retried": self.retried,
            "gate_retried": self.gate_retried,
            "gate_failed": self.gate_failed,
            "gate_failures": list(self.gate_failures),
            "wall_time": round(self.wall_time, 3),
        }


def run_specs(
    specs: Iterable[Any],
    store: Any,
    handle: ExecutorHandle,
    *,
    learner_name: str,
    learner_config: dict[str, Any],
    task_for: Callable[[str], Any],
    learner_factory: Any = None,
    retries: int = 2,
    max_in_flight: int | None = None,
    on_event: Callable[[RunEvent], None] | None = None,
    peers: Iterable[Any] = (),
    ungated: Container[str] = (),
) -> RunStats:
    """Train every spec that the store does not hold yet.

    Parameters
    ----------
    specs : iterable of RunSpec
    store : RunStore
        Finished runs are written here (one transaction each) by this process only.
    handle : ExecutorHandle
    learner_name, learner_config
        The learner every worker creates (recorded with each run).
    learner_factory : Learner class, optional
        Create learners from this class instead of looking ``learner_name`` up in each
        worker's registry.
    task_for : callable label -> Task
        The (possibly trimmed) task holding a unit's data, shipped with each run.
    retries : int
        A failed run is retried up to this many times in this call; then it is stored as
        failed and runs that transfer from it are skipped. A scratch body that fails the
        quality gate (:mod:`hetero.measure.quality`) is retrained from another seed up to
        this many times in all (a stored one that failed with fewer reseeds too, and the
        runs that transfer from it with it); then it is kept and counted.
    max_in_flight : int, optional
        Submitted-but-unfinished runs (default: two per worker).
    on_event : callable, optional
        Called with a :class:`RunEvent` after every finished, failed or skipped run.
    peers : iterable of RunSpec
        Scratch runs of the whole measurement, other seeds included, besides those in
        ``specs``: the gate compares a scratch body with the other seeds of its unit among
        both (finished ones from the store). Transfers from a unit's bodies wait until
        every seed of the unit in this call is finished and compared.
    ungated : container of str
        Tasks whose scratch bodies the gate records but never retrains: negative controls
        (labels shuffled), which learn nothing by design.
    """
    from hetero.measure.quality import outlier
    from hetero.measure.store import RunRecord

    t0 = time.perf_counter()
    unique: dict[str, Any] = {}
    for spec in specs:
        unique.setdefault(spec.key, spec)
    stats = RunStats(total=len(unique))
    pending: dict[str, Any] = {}
    done = 0

    def emit(spec: Any, status: str, record: Any = None) -> None:
        if on_event is not None:
            on_event(RunEvent(spec, status, record, done, stats.total))

    # the seeds of one scratch unit: the gate compares each body with the others
    def unit_of(spec: Any) -> tuple:
        return (spec.level, spec.unit, spec.mode, spec.keep_head, spec.max_epochs)

    def gated(spec: Any) -> bool:
        return spec.unit.split("/", 1)[0] not in ungated

    scratch = {s.key: s for s in peers if s.kind == "scratch" and gated(s)}
    scratch.update({k: s for k, s in unique.items() if s.kind == "scratch" and gated(s)})
    seeds_of: dict[tuple, list[str]] = {}
    for k, s in scratch.items():
        seeds_of.setdefault(unit_of(s), []).append(k)
    dependents: dict[str, list[str]] = {}
    for k, s in unique.items():
        if s.source_key is not None:
            dependents.setdefault(s.source_key, []).append(k)

    cached: set[str] = set()
    for key, spec in unique.items():
        rec = store.get(key)
        if rec is not None and rec.ok and (not spec.save_state or store.has_state(key)):
            stats.cached += 1
            cached.add(key)
            done += 1
            emit(spec, "cached", rec)
        else:
            pending[key] = spec
    attempts: dict[str, int] = {}
    reseeds: dict[str, int] = {}  # scratch runs retrained after failing the quality gate
    trained: set[str] = set()  # keys trained and stored in this call
    dead: set[str] = set()  # keys failed for good in this call
    limit = max_in_flight or max(2, 2 * handle.workers)
    in_flight: dict[cf.Future, Any] = {}

    def busy(unit: tuple) -> bool:
        running = {s.key for s in in_flight.values()}
        return any(k in pending or k in running for k in seeds_of[unit])

    def ready(spec: Any) -> bool | None:
        """True: can start; False: wait for its source (and the source's other seeds, for
        the gate); None: its source failed."""
        if spec.source_key is None:
            return True
        if spec.source_key in dead:
            return None
        source = scratch.get(spec.source_key)
        if source is not None and busy(unit_of(source)):
            return False
        return store.has_state(spec.source_key)

    def gate_of(rec: Any) -> dict[str, Any]:
        return (rec.info or {}).get("gate") or {}

    gate_failed: dict[str, str] = {}  # key -> unit of bodies kept after failing the gate

    def reseed(key: str, rec: Any) -> bool:
        """Retrain the stored body ``key`` from its next seed, and the runs that transfer
        from it after it (False: no retries left, or not a run of this call). Stored runs
        that transferred from it and are not in this call are marked ``stale``, so that
        no later call reuses them."""
        nonlocal done
        n = reseeds.get(key, gate_of(rec).get("reseed", 0))
        if key not in unique or n >= retries:
            return False
        reseeds[key] = n + 1
        stats.gate_retried += 1
        gate_failed.pop(key, None)
        if key in cached:
            for old in store.records(status="ok"):
                if old.source_key == key and old.key not in unique:
                    old.status = "stale"
                    old.error = "its source body was retrained by the quality gate"
                    store.put(old)
        for k in [key, *dependents.get(key, [])]:
            if k in pending:
                continue
            if k in cached:
                cached.discard(k)
                stats.cached -= 1
                done -= 1
            elif k in trained:
                trained.discard(k)
                stats.trained -= 1
                done -= 1
            pending[k] = unique[k]
        emit(unique[key], "retry")
        return True

    def compare_seeds(unit: tuple) -> None:
        """Once every seed of ``unit`` is finished: retrain (or, out of retries, record and
        count) each body far worse than the others (:func:`hetero.measure.quality.outlier`)."""
        if busy(unit):
            return
        recs = {k: store.get(k) for k in seeds_of[unit]}
        learned = {  # finished bodies that beat the prior (the others have their own verdict)
            k: r
            for k, r in recs.items()
            if r is not None
            and r.ok
            and (gate_of(r).get("passed", True) or gate_of(r).get("outlier"))
        }
        for k, r in learned.items():
            if k not in unique:  # judged when it was trained (its transfers ran then)
                continue
            g = gate_of(r)
            verdict = outlier(
                r.val_loss,
                [o.val_loss for o2, o in learned.items() if o2 != k],
                g.get("prior_loss"),
            )
            far = bool(verdict and verdict["outlier"])
            if far == bool(g.get("outlier")) or (far and reseed(k, r)):
                continue
            r.info = {
                **(r.info or {}),
                "gate": {**g, **(verdict or {}), "outlier": far, "passed": not far},
            }
            store.put(r)
            if far:
                gate_failed[k] = r.unit
            else:
                gate_failed.pop(k, None)

    # bodies stored as failing the gate with retries left (a rerun with a larger --retries)
    for key in list(cached):
        rec = store.get(key)
        if key in scratch and gate_of(rec).get("passed") is False:
            reseed(key, rec)
    for unit in {unit_of(scratch[k]) for k in unique if k in scratch}:
        compare_seeds(unit)

    def submit(spec: Any) -> None:
        source = store.state_bytes(spec.source_key) if spec.source_key else None
        fut = handle.executor.submit(
            execute_run,
            spec,
            learner_factory or learner_name,
            learner_config,
            task_for(spec.unit),
            source,
            reseeds.get(spec.key, 0),
        )
        in_flight[fut] = spec

    try:
        while pending or in_flight:
            for key in list(pending):
                if len(in_flight) >= limit:
                    break
                spec = pending[key]
                state = ready(spec)
                if state is None:
                    del pending[key]
                    dead.add(key)
                    stats.skipped += 1
                    done += 1
                    emit(spec, "skipped")
                elif state:
                    del pending[key]
                    try:
                        submit(spec)
                    except cf.BrokenExecutor as exc:
                        raise _broken_pool_error(handle, exc) from None
            if not in_flight:
                if pending:  # sources neither planned nor stored: cannot proceed
                    for key, spec in list(pending.items()):
                        del pending[key]
                        stats.skipped += 1
                        done += 1
                        emit(spec, "skipped")
                break
            finished, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                spec = in_flight.pop(fut)
                try:
                    out = fut.result()
                except cf.BrokenExecutor as exc:  # the pool is gone: no retry can run
                    raise _broken_pool_error(handle, exc) from None
                except Exception as exc:  # worker crashed (e.g. killed), not a run error
                    out = {
                        "status": "failed",
                        "error": " ".join(f"{type(exc).__name__}: {exc}".split()),
                        "wall_time": 0.0,
                        "versions": {},
                    }
                n_att = attempts.get(spec.key, 0) + 1
                attempts[spec.key] = n_att
                prev = store.get(spec.key)
                total_attempts = n_att + (prev.attempts if prev is not None and not prev.ok else 0)
                if out["status"] != "ok" and n_att <= retries:
                    stats.retried += 1
                    emit(spec, "retry")
                    pending[spec.key] = spec
                    continue
                gate_info = (out.get("info") or {}).get("gate") or {}
                if out["status"] == "ok" and gate_info.get("passed") is False and gated(spec):
                    if reseeds.get(spec.key, 0) < retries:  # a body that learned nothing
                        reseeds[spec.key] = reseeds.get(spec.key, 0) + 1
                        stats.gate_retried += 1
                        emit(spec, "retry")
                        pending[spec.key] = spec
                        continue
                    gate_failed[spec.key] = spec.unit
                state = out.pop("state", None)
                record = RunRecord(
                    key=spec.key,
                    status=out["status"],
                    kind=spec.kind,
                    level=spec.level,
                    unit=spec.unit,
                    seed=spec.seed,
                    learner=learner_name,
                    learner_config=learner_config,
                    source=spec.source,
                    source_key=spec.source_key,
                    mode=spec.mode,
                    keep_head=spec.keep_head,
                    max_epochs=spec.max_epochs,
                    val_loss=out.get("val_loss"),
                    val_metric=out.get("val_metric"),
                    metric=out.get("metric"),
                    curve=out.get("curve") or [],
                    epochs=out.get("epochs"),
                    best_epoch=out.get("best_epoch"),
                    converged=out.get("converged"),
                    wall_time=out.get("wall_time"),
                    versions=out.get("versions") or {},
                    info=out.get("info") or {},
                    error=out.get("error"),
                    attempts=total_attempts,
                )
                store.put(record, state)
                done += 1
                if record.ok:
                    stats.trained += 1
                    trained.add(spec.key)
                    emit(spec, "ok", record)
                else:
                    stats.failed += 1
                    stats.failures.append((spec.unit, record.error or ""))
                    dead.add(spec.key)
                    emit(spec, "failed", record)
                if spec.key in scratch:
                    compare_seeds(unit_of(spec))
    except BaseException:
        for fut in in_flight:
            fut.cancel()
        raise
    finally:
        stats.wall_time = time.perf_counter() - t0
        stats.gate_failed = len(gate_failed)
        stats.gate_failures = sorted(gate_failed.values())
    return stats
